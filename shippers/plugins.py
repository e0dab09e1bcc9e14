"""Find adapter plugins: every entry point of the ``authlog.adapters`` group, built-ins included.

Test doubles (``memory``, ``chaos``) are never plugins: a process opts in with
:func:`shippers.testing.register_test_adapters` (or ``pytest -p shippers.testing.pytest_plugin``),
which calls :func:`register` for this process only. An entry point that names a module under
``shippers.testing`` (left over from an older install's metadata) is ignored, so
``type = "chaos"`` never passes ``check-config`` in production.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol

from adapters.contract import Adapter, AdapterInfo, SinkContext
from adapters.sdk import MissingSdkError
from shippers.errors import ConfigError

if TYPE_CHECKING:
    from shippers.catalog import Catalog


class ConfiguredSink(Protocol):
    """What build_adapters reads of a ``shippers.config.SinkConfig`` (named by shape, so config.py,
    which asks this module which adapters exist, is not imported back)."""

    name: str
    common: Any
    adapter: Any

ENTRY_POINT_GROUP = "authlog.adapters"
# Why: the package of test doubles; never loaded through entry points (see the module docstring).
TESTING_PACKAGE = "shippers.testing"
# Why: named here (not imported from shippers.testing) so an unknown-type error can say how to opt in.
TEST_ADAPTER_NAMES = frozenset({"memory", "chaos"})
OPT_IN_HINT = (
    "call shippers.testing.register_test_adapters() in your tests, or run pytest with "
    "-p shippers.testing.pytest_plugin (or pytest_plugins = [\"shippers.testing.pytest_plugin\"] in conftest.py)"
)

_registered: dict[str, AdapterInfo] = {}  # adapters registered by this process (register()), by name


@cache
def _points() -> dict[str, EntryPoint]:
    """The group's entry points by name, test doubles left out; nothing is imported yet."""
    points: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        module = point.value.split(":", 1)[0].strip()
        if module == TESTING_PACKAGE or module.startswith(TESTING_PACKAGE + "."):
            continue  # a test double: opt in with shippers.testing.register_test_adapters()
        points.setdefault(point.name, point)
    return points


@cache
def _load(name: str) -> AdapterInfo | str:
    """Import one plugin (only when a config names it or a listing asks: an SDK costs tens of MiB); or why not."""
    point = _points()[name]
    try:
        cls = point.load()
    except MissingSdkError as exc:  # a built-in destination installed without its extra
        return str(exc)
    except Exception as exc:  # a broken third-party plugin must not take the others down
        return f"{point.value} failed to import: {type(exc).__name__}: {exc}"
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        return f"{point.value} is not a subclass of adapters.contract.Adapter"
    return AdapterInfo(point.name, cls, point.dist.name if point.dist else "?")


def adapter_info(name: str) -> AdapterInfo | None:
    """The adapter for sink type ``name`` (a registered one first), importing only that plugin; None if none loads."""
    if name in _registered:
        return _registered[name]
    if name not in _points():
        return None
    loaded = _load(name)
    return loaded if isinstance(loaded, AdapterInfo) else None


def installed_adapters() -> dict[str, AdapterInfo]:
    """Adapter name -> info for every plugin that loads (each imported once per process) and every registered one."""
    loaded = {name: _load(name) for name in _points()}
    return {**{name: info for name, info in loaded.items() if isinstance(info, AdapterInfo)}, **_registered}


def register(cls: type[Adapter], origin: str) -> None:
    """Make ``cls`` available as sink type ``cls.name`` in this process only (test doubles opt in this way)."""
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise TypeError(f"{cls!r} is not a subclass of adapters.contract.Adapter")
    _registered[cls.name] = AdapterInfo(cls.name, cls, origin)


def unregister(name: str) -> None:
    """Forget an adapter registered with :func:`register` (entry-point plugins stay)."""
    _registered.pop(name, None)


def builds_anywhere(name: str) -> bool:
    """Whether a fresh interpreter builds sink type ``name`` too: an entry point, not a type registered by this process."""
    return name not in _registered and name in _points()


def unknown_type_hint(kind: object) -> str:
    """What to add to "unknown sink type" for a test double's name: how tests opt in."""
    if kind in TEST_ADAPTER_NAMES:
        return f"; {kind!r} is a test double from {TESTING_PACKAGE}, never available in production: {OPT_IN_HINT}"
    return ""


def broken_adapters() -> dict[str, str]:
    """Adapter name -> why it could not be loaded (listed by `authlog adapters`, named by check-config)."""
    loaded = {name: _load(name) for name in _points()}
    return {name: why for name, why in loaded.items() if isinstance(why, str)}


def broken_reason(name: str) -> str | None:
    """Why the installed plugin ``name`` cannot load, or None (not installed, or it loads)."""
    if name in _registered or name not in _points():
        return None
    loaded = _load(name)
    return loaded if isinstance(loaded, str) else None


def adapter_class(name: str) -> type[Adapter] | None:
    info = adapter_info(name)
    return info.cls if info else None


def effective_concurrency(sink: ConfiguredSink) -> int:
    """Requests a sink keeps in flight: its ``concurrency``, else its adapter's default."""
    if sink.common.concurrency is not None:
        return int(sink.common.concurrency)
    cls = adapter_class(sink.common.type)
    return cls.default_concurrency if cls is not None else 1


def build_adapters(
    sinks: Iterable[ConfiguredSink],
    catalog: Catalog,
    clock: Callable[[], float],
    store_id: str = "",
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, Adapter]:
    """Construct every sink's adapter; problems adapters find in their config (they may need the
    catalog, e.g. a per-type table naming an unknown type) are collected into one ConfigError."""
    built: dict[str, Adapter] = {}
    problems: list[str] = []
    for sink in sinks:
        cls = adapter_class(sink.common.type)
        if cls is None:  # config validation names unknown types; this is a plugin that vanished since
            problems.append(f"sinks.{sink.name}.type: adapter {sink.common.type!r} is not installed")
            continue
        try:
            built[sink.name] = cls(SinkContext(sink.name, catalog, clock, store_id, monotonic), sink.adapter)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return built
