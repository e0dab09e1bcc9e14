"""Helpers shared by the Elasticsearch adapter tests: a fixed clock, events of every catalog type, adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

import shippers  # noqa: F401 - first, so adapters.contract is not half-imported (circular import in shippers/__init__)
from adapters.contract import Request, SinkContext
from adapters.elasticsearch import ElasticsearchAdapter, ElasticsearchConfig
from shippers.catalog import builtin_catalog
from shippers.event import Event, EventValidator
from shippers.testing.scripted_http import Answer, Recorded, ScriptedHTTPServer

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
    config = msgspec.convert(keys, ElasticsearchConfig, dec_hook=lambda kind, value: kind(value))
    return ElasticsearchAdapter(SinkContext("search", CATALOG, clock), config)


def request_for(adapter: ElasticsearchAdapter, events: list[Event], batch_id: int = 1) -> Request:
    docs = [adapter.map(e) for e in events]
    items = [adapter.encode_item(d) for d in docs]
    return Request(batch_id, "search", "", None, 1, len(events), events, docs, items)


def numbered(count: int, prefix: str = "ev", type_: str = "login.completed") -> list[Event]:
    return [event(type_, id=f"{prefix}-{i:05d}", userId=f"u-{i}", ip="198.51.100.9") for i in range(count)]


class CaptureServer(ScriptedHTTPServer):
    """A tiny HTTP server that records raw requests and answers with a scripted status and JSON body.

    For what the Elasticsearch stand-in does not show: the exact wire headers (auth, SigV4)
    and bodies, and statuses it cannot inject (401/403 on any path).
    """

    def __init__(self, product: bool = True) -> None:
        super().__init__(self._reply)
        self.product = product
        self.status = 200
        self.body: dict[str, Any] | None = None
        self.headers: dict[str, str] = {}

    def _reply(self, seen: Recorded) -> Answer:
        body = self.body
        if body is None:
            body = {"acknowledged": True} if "_index_template" in seen.path else {"errors": False, "items": []}
        headers = {"Content-Type": "application/json", **self.headers}
        if self.product:
            headers["X-Elastic-Product"] = "Elasticsearch"
        return Answer(self.status, headers, json.dumps(body).encode())
