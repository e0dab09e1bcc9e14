"""Helpers shared by the Elasticsearch adapter tests: a fixed clock, events of every catalog type, adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from adapters.contract import Request, SinkContext
from adapters.elasticsearch import ElasticsearchAdapter, ElasticsearchConfig
from shippers.catalog import builtin_catalog
from shippers.event import Event, EventValidator

DATA = Path(__file__).resolve().parents[2] / "data" / "elasticsearch"
# 2026-05-28T20:26:40Z: a fixed "now" so event times and Retry-After dates are deterministic.
FIXED = 1_780_000_000.0
CATALOG = builtin_catalog()
VALIDATOR = EventValidator(CATALOG, clock=lambda: FIXED)

FULL_FIELDS: dict[str, Any] = {
    "time": "2026-05-28T19:34:33.123Z",
    "tenantId": "t-42",
    "userId": "u-7",
    "email": "ana@example.com",
    "ip": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
    "details": {"k": "v", "attempt": 2, "nested": {"ok": True}},
}


def ecs_facts() -> dict[str, Any]:
    return json.loads((DATA / "ecs_facts.json").read_text("utf-8"))


def every_type_and_reason() -> list[tuple[str, str | None]]:
    """(type, reason) for every catalog type without a reason and with each of its reasons."""
    cases: list[tuple[str, str | None]] = []
    for kind in CATALOG:
        cases.append((kind.name, None))
        cases += [(kind.name, reason) for reason in kind.reasons]
    return cases


def event(type_: str, reason: str | None = None, **fields: Any) -> Event:
    values = {"type": type_, **fields}
    if reason is not None:
        values["reason"] = reason
    return VALIDATOR.from_fields(values)


def make_adapter(clock: Any = lambda: FIXED, **keys: Any) -> ElasticsearchAdapter:
    config = msgspec.convert(keys, ElasticsearchConfig)
    return ElasticsearchAdapter(SinkContext("search", CATALOG, clock), config)


def request_for(adapter: ElasticsearchAdapter, events: list[Event], batch_id: int = 1) -> Request:
    docs = [adapter.map(e) for e in events]
    items = [adapter.encode_item(d) for d in docs]
    return Request(batch_id, "search", "", None, 1, len(events), events, docs, items)


def numbered(count: int, prefix: str = "ev", type_: str = "login.completed") -> list[Event]:
    return [event(type_, id=f"{prefix}-{i:05d}", userId=f"u-{i}", ip="198.51.100.9") for i in range(count)]
