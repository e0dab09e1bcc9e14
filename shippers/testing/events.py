"""Event and request builders for adapter tests (ours and third-party adapters' alike).

::

    for type_, reason in every_type_and_reason():
        doc = adapter.map(full_event(type_, reason))

    request = request_for(adapter, [full_event("login.completed")])   # what the core would send
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.contract import Adapter, Request
from shippers.catalog import builtin_catalog
from shippers.event import Event, EventValidator

FIXED_NOW = 1_795_635_273.123  # 2026-11-25T19:34:33.123Z: "now" for events built here
EVENT_ID = "0193a5e2-7c1d-7abc-8def-0123456789ab"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# Every optional field of the wire format, set to documentation values.
FULL_FIELDS: dict[str, Any] = {
    "id": EVENT_ID,
    "time": "2026-11-25T19:34:33.123Z",
    "tenantId": "t-42",
    "userId": "u-7",
    "email": "ana@example.com",
    "ip": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
    "traceId": TRACE_ID,
    "details": {"k": "v", "attempt": 3},
}


def every_type_and_reason() -> list[tuple[str, str | None]]:
    """(type, reason) for every built-in type: once without a reason and once per reason."""
    cases: list[tuple[str, str | None]] = []
    for kind in builtin_catalog():
        cases.append((kind.name, None))
        cases += [(kind.name, reason) for reason in kind.reasons]
    return cases


def case_id(case: tuple[str, str | None]) -> str:
    """A readable pytest id for a (type, reason) case."""
    return f"{case[0]}:{case[1]}" if case[1] else case[0]


def full_event(type_: str, reason: str | None = None, *, now: float = FIXED_NOW, **overrides: Any) -> Event:
    """A validated event with every optional field set; an override of None leaves that field out."""
    fields: dict[str, Any] = {"type": type_, **FULL_FIELDS, **overrides}
    if reason is not None:
        fields["reason"] = reason
    return EventValidator(builtin_catalog(), clock=lambda: now).from_fields({k: v for k, v in fields.items() if v is not None})


def request_for(adapter: Adapter, events: Sequence[Event], *, batch_id: int = 1, first_seq: int = 1, key: str | None = None) -> Request:
    """The Request the core would build for these (same-partition) events."""
    docs = [adapter.map(e) for e in events]
    return Request(
        batch_id=batch_id,
        sink=adapter.context.name,
        partition=adapter.partition(events[0]) if events else "",
        key=key,
        first_seq=first_seq,
        last_seq=first_seq + len(events) - 1,
        events=list(events),
        docs=docs,
        items=[adapter.encode_item(d) for d in docs],
    )
