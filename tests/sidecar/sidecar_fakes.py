"""Test doubles for the sidecar tests: a fake shipper with the real validator, and the app served on a real socket."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from shippers.catalog import builtin_catalog
from shippers.config import Config, config_from_dict
from shippers.errors import BufferFullError, ValidationError
from shippers.event import Event, EventValidator
from shippers.metrics import Metrics
from shippers.sidecar.app import make_app
from shippers.testing.fake_server import FakeServer


@dataclass
class FakeResult:
    accepted: int
    rejected: list[tuple[int, str]]


@dataclass
class FakeLetter:
    id: int
    sink: str
    seq: int
    reason: str
    at: float
    event: Event


@dataclass
class FakeShipper:
    """The Shipper methods the sidecar uses, validating with the real EventValidator and storing in a list."""

    config: Config
    metrics: Metrics = field(default_factory=Metrics)
    committed: list[Event] = field(default_factory=list)
    full: bool = False
    is_ready: bool = True
    letters: list[FakeLetter] = field(default_factory=list)
    commits: int = 0
    raise_next: list[Exception] = field(default_factory=list)  # raised (and removed) by the next commits
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.validator = EventValidator(builtin_catalog())

    def validate_raw(self, items: list[bytes], *, start: int = 0,
                     into: tuple[list[Event], list[tuple[int, str]]] | None = None) -> tuple[list[Event], list[tuple[int, str]]]:
        accepted, rejected = ([], []) if into is None else into
        for index, item in enumerate(items, start):
            try:
                accepted.append(self.validator.decode(item))
            except ValidationError as exc:
                rejected.append((index, str(exc)))
                self.metrics.rejected.labels(exc.reason).inc()
        return accepted, rejected

    def commit_validated(self, validated: tuple[list[Event], list[tuple[int, str]]]) -> FakeResult:
        if self.raise_next:
            raise self.raise_next.pop(0)
        if self.full:
            raise BufferFullError("sink 'local' is full (when_full = \"block\")", retry_after=2.5)
        accepted, rejected = validated
        with self.lock:
            self.committed.extend(accepted)
            self.commits += 1
        return FakeResult(len(accepted), rejected)

    def status(self) -> dict[str, Any]:
        return {"version": "test", "uptimeSeconds": 1.0, "buffer": {"events": len(self.committed), "bytes": 0, "maxBytes": 1},
                "sinks": {"local": {"type": "file", "state": "active", "lagEvents": 0, "delivered": 0, "duplicates": 0,
                                    "retries": 0, "deadLettered": len(self.letters), "dropped": 0, "lastError": None,
                                    "lastDeliveryAt": None}}}

    def dead_letters(self, sink: str | None, limit: int = 100) -> list[FakeLetter]:
        return [x for x in self.letters if sink in (None, x.sink)][:limit]

    def ready(self) -> bool:
        return self.is_ready


def make_config(tmp_path: Path, **server: Any) -> Config:
    """A valid config with one file sink and the given [server] keys."""
    return config_from_dict(
        {"server": server, "buffer": {"path": str(tmp_path / "buf")},
         "sinks": {"local": {"type": "file", "path": str(tmp_path / "out.ndjson")}}},
        base_dir=tmp_path,
    )


class ServedApp(FakeServer):
    """The sidecar app over a fake shipper, served on loopback port 0 from a thread."""

    def __init__(self, shipper: FakeShipper, tokens: list[str], ingest_process: Any = None) -> None:
        super().__init__()
        self.shipper = shipper
        self.tokens = tokens
        self.ingest_process = ingest_process

    def make_app(self) -> web.Application:
        return make_app(self.shipper, self.tokens, self.ingest_process)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: (status, headers, body)."""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or self.host, parts.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def post(self, body: bytes, content_type: str = "application/json", **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """POST /v1/events; returns (status, decoded JSON body, headers)."""
        sent = {"Content-Type": content_type, **{k.replace("_", "-"): v for k, v in headers.items()}}
        status, response_headers, raw = self.request("POST", "/v1/events", body, sent)
        return status, json.loads(raw), response_headers
