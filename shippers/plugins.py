"""Find adapter plugins: every entry point of the ``authlog.adapters`` group, built-ins included."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from adapters.contract import Adapter, AdapterInfo

ENTRY_POINT_GROUP = "authlog.adapters"


@cache
def _scan() -> tuple[dict[str, AdapterInfo], dict[str, str]]:
    found: dict[str, AdapterInfo] = {}
    broken: dict[str, str] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = point.load()
        except Exception as exc:  # a broken third-party plugin must not take the others down
            broken[point.name] = f"{point.value} failed to import: {type(exc).__name__}: {exc}"
            continue
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            broken[point.name] = f"{point.value} is not a subclass of adapters.contract.Adapter"
            continue
        origin = point.dist.name if point.dist else "?"
        found[point.name] = AdapterInfo(point.name, cls, origin, list(cls.Config.__struct_fields__))
    return found, broken


def installed_adapters() -> dict[str, AdapterInfo]:
    """Adapter name -> info for every plugin that loads, scanned once per process."""
    return _scan()[0]


def broken_adapters() -> dict[str, str]:
    """Adapter name -> why it could not be loaded (listed by `authlog adapters`, named by check-config)."""
    return _scan()[1]


def adapter_class(name: str) -> type[Adapter] | None:
    info = installed_adapters().get(name)
    return info.cls if info else None
