"""Helpers of the Cloud Logging adapter tests: a fixed clock, events of every catalog type, adapters and requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from adapters.cloud_logging import CloudLoggingAdapter, CloudLoggingConfig
from adapters.contract import Request, SinkContext
from shippers import units
from shippers.catalog import builtin_catalog
from shippers.config import Duration, FilePath
from shippers.event import Event, EventValidator

FIXED = 1_795_635_273.123  # 2026-11-25T19:34:33.123Z, epoch seconds
PROJECT = "test-project"
DATA = Path(__file__).parents[2] / "data" / "cloud_logging"
EVENT_ID = "0193a5e2-7c1d-7abc-8def-0123456789ab"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def every_type_and_reason() -> list[tuple[str, str | None]]:
    """(type, reason) for every catalog type, once without a reason and once per reason."""
    cases: list[tuple[str, str | None]] = []
    for kind in builtin_catalog():
        cases.append((kind.name, None))
        cases += [(kind.name, reason) for reason in kind.reasons]
    return cases


def case_id(case: tuple[str, str | None]) -> str:
    return f"{case[0]}:{case[1]}" if case[1] else case[0]


def event(type_: str, reason: str | None = None, **fields: Any) -> Event:
    """A validated event at FIXED with exactly the given optional fields (None leaves one out)."""
    raw: dict[str, Any] = {"type": type_, "id": EVENT_ID, "time": "2026-11-25T19:34:33.123Z", **fields}
    if reason is not None:
        raw["reason"] = reason
    return EventValidator(builtin_catalog(), clock=lambda: FIXED).from_fields({k: v for k, v in raw.items() if v is not None})


def full_event(type_: str, reason: str | None = None, **extra: Any) -> Event:
    """A validated event with every optional field set (overridable), at FIXED."""
    fields: dict[str, Any] = {
        "tenantId": "t-42",
        "userId": "u-7",
        "email": "ana@example.com",
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "traceId": TRACE_ID,
        "details": {"k": "v", "attempt": 3},
        **extra,
    }
    return event(type_, reason, **fields)


def make_config(**keys: Any) -> CloudLoggingConfig:
    """A config for project PROJECT with these keys, decoded the way the loader does."""
    raw = {"project": PROJECT, **keys}
    return msgspec.convert(
        {k: v for k, v in raw.items() if v is not None}, CloudLoggingConfig, dec_hook=_dec_hook, strict=False
    )


def _dec_hook(kind: type, value: Any) -> Any:
    """Build the config loader's Duration / FilePath values from plain ones."""
    if kind is Duration:
        return Duration(units.parse_duration(value))
    if kind is FilePath:
        return FilePath(str(value))
    raise NotImplementedError(kind)


def make_adapter(clock: Callable[[], float] = lambda: FIXED, name: str = "gcl", **keys: Any) -> CloudLoggingAdapter:
    """An adapter for sink ``name`` with these config keys."""
    return CloudLoggingAdapter(SinkContext(name=name, catalog=builtin_catalog(), clock=clock), make_config(**keys))


def make_request(adapter: CloudLoggingAdapter, events: list[Event], batch_id: int = 1) -> Request:
    """The Request the core would build for these events."""
    docs = [adapter.map(e) for e in events]
    return Request(
        batch_id=batch_id,
        sink=adapter.context.name,
        partition="",
        key=None,
        first_seq=1,
        last_seq=len(events),
        events=events,
        docs=docs,
        items=[adapter.encode_item(d) for d in docs],
    )
