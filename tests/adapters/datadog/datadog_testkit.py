"""Helpers of the Datadog adapter tests: a fixed clock, events of every catalog type, adapters and requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.contract import Request, SinkContext
from adapters.datadog import DatadogAdapter, DatadogConfig
from shippers.catalog import builtin_catalog
from shippers.event import Event, EventValidator

FIXED = 1_795_635_273.123  # 2026-11-25T19:34:33.123Z, epoch seconds
KEY = "dd-test-key-0123456789abcdef"
DATA = Path(__file__).parents[2] / "data" / "datadog"


def every_type_and_reason() -> list[tuple[str, str | None]]:
    """(type, reason) for every catalog type, once without a reason and once per reason."""
    cases: list[tuple[str, str | None]] = []
    for kind in builtin_catalog():
        cases.append((kind.name, None))
        cases += [(kind.name, reason) for reason in kind.reasons]
    return cases


def full_event(type_: str, reason: str | None = None, **extra: Any) -> Event:
    """A validated event with every optional field set (overridable), at FIXED."""
    fields: dict[str, Any] = {
        "type": type_,
        "id": "0193a5e2-7c1d-7abc-8def-0123456789ab",
        "time": "2026-11-25T19:34:33.123Z",
        "tenantId": "t-42",
        "userId": "u-7",
        "email": "ana@example.com",
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "details": {"k": "v", "attempt": 3},
    }
    if reason is not None:
        fields["reason"] = reason
    fields.update(extra)
    return EventValidator(builtin_catalog(), clock=lambda: FIXED).from_fields({k: v for k, v in fields.items() if v is not None})


def make_adapter(clock: Callable[[], float] = lambda: FIXED, **keys: Any) -> DatadogAdapter:
    """An adapter for sink 'dd' with these config keys (api_key and hostname defaulted)."""
    raw = {"api_key": KEY, "hostname": "web-1", **keys}
    config = DatadogConfig(**{k: v for k, v in raw.items() if v is not None})
    return DatadogAdapter(SinkContext(name="dd", catalog=builtin_catalog(), clock=clock), config)


def make_request(adapter: DatadogAdapter, events: list[Event], batch_id: int = 1) -> Request:
    """The Request the core would build for these events."""
    docs = [adapter.map(e) for e in events]
    return Request(
        batch_id=batch_id, sink="dd", partition="", key=None, first_seq=1, last_seq=len(events),
        events=events, docs=docs, items=[adapter.encode_item(d) for d in docs],
    )
