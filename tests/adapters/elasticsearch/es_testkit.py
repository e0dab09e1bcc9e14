"""Helpers shared by the Elasticsearch adapter tests: a fixed clock, events of every catalog type, adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import msgspec

import shippers  # noqa: F401 - first, so adapters.contract is not half-imported (circular import in shippers/__init__)
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
    config = msgspec.convert(keys, ElasticsearchConfig, dec_hook=lambda kind, value: kind(value))
    return ElasticsearchAdapter(SinkContext("search", CATALOG, clock), config)


def request_for(adapter: ElasticsearchAdapter, events: list[Event], batch_id: int = 1) -> Request:
    docs = [adapter.map(e) for e in events]
    items = [adapter.encode_item(d) for d in docs]
    return Request(batch_id, "search", "", None, 1, len(events), events, docs, items)


def numbered(count: int, prefix: str = "ev", type_: str = "login.completed") -> list[Event]:
    return [event(type_, id=f"{prefix}-{i:05d}", userId=f"u-{i}", ip="198.51.100.9") for i in range(count)]


class CaptureServer:
    """A tiny HTTP server that records raw requests and answers with a scripted status and JSON body.

    For what the Elasticsearch stand-in does not show: the exact wire headers (auth, SigV4)
    and bodies, and statuses it cannot inject (401/403 on any path).
    """

    def __init__(self, product: bool = True) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.product = product
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.status = 200
        self.body: dict[str, Any] | None = None
        self.headers: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                server.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
                body = server.body
                if body is None:
                    body = {"acknowledged": True} if "_index_template" in self.path else {"errors": False, "items": []}
                data = json.dumps(body).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in server.headers.items():
                    self.send_header(name, value)
                if server.product:
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
