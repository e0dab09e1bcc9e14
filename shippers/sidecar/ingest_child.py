"""The sidecar's ingest process: split, validate and commit request bodies beside the server's process.

Why a process: validation and the commit are most of an event's ingest cost (~9 µs of ~11), and
in the server's process they share one interpreter lock with the HTTP server and every sink's
delivery. Here they run on the other core. The process has a validator and the store (as one more
appender; the server's process keeps delivery, status and metrics) and nothing else: no sinks, no
SDKs (~30 MiB).

It serves one request at a time from its parent (:mod:`shippers.sidecar.ingest_process`) over a
socket pair, so the turns of several requests interleave exactly as the parent orders them
(``turns.py``)::

    ("split", id, body, content_type, content_encoding, limits) -> ("ok", items) | ("body", status, message)
    ("validate", id, start, count)                               -> ("ok", {reason: n}, {lookup: failures}) | ("unknown",)
    ("commit", id)                                               -> ("ok", accepted, rejected, {(type, outcome): n})
                                                                    | ("store", class, message, retry_after, sink, kind, fault, events)
                                                                    | ("recursion",) | ("unknown",)
    ("drop", id)                                                 -> nothing (the request was abandoned)

It ends when the socket closes (its parent is gone) and, on Linux, when its parent dies, even by
``kill -9`` (``PR_SET_PDEATHSIG``): it never outlives the sidecar that acknowledges its commits.

The enrichment look-ups that failed since the last answer ride on the next ``validate`` answer
(validation is where the enricher runs); the parent counts them, as it counts rejections.

``("unknown",)`` answers a request this process never split: it was split by an ingest process
that died, and this one was started since (the parent tells the producer to retry).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from shippers.buffer.opening import open_buffer
from shippers.catalog import load_catalog
from shippers.child_process import die_with_parent, leave_shutdown_to_parent
from shippers.config import BufferConfig, EnrichConfig, RouteConfig
from shippers.enrichment.enricher import build_enricher
from shippers.errors import BufferError
from shippers.event import EventValidator
from shippers.ingest import Validated, append_validated, validate_items
from shippers.routing import Route
from shippers.sidecar.body import BodyError, split_body


@dataclass(frozen=True)
class IngestSettings:
    """What the ingest process needs of the config (sent to it at start; no secrets, no sinks)."""

    buffer: BufferConfig  # its path made absolute
    catalog_extra: str | None
    routes: dict[str, RouteConfig] = field(default_factory=dict)
    enrich: EnrichConfig | None = None  # its database paths made absolute


@dataclass
class _Request:
    items: list[bytes]
    validated: Validated | None = None


class IngestChild:
    """The state of the ingest process: a validator, the store, and the requests in progress."""

    def __init__(self, settings: IngestSettings) -> None:
        catalog = load_catalog(Path(settings.catalog_extra) if settings.catalog_extra else None)
        self.enrichment_failures: Counter[str] = Counter()  # by look-up, since the last validate answer
        self.validator = EventValidator(catalog, time.time, build_enricher(settings.enrich, on_failure=self._note_enrichment_failure))
        self.buffer = open_buffer(settings.buffer, clock=time.time)
        # the sidecar's own routes (it delivers from this store), so a drop_oldest here counts exactly
        self.buffer.use_routes({name: Route(name, route).takes for name, route in settings.routes.items()})
        self.requests: dict[int, _Request] = {}

    def _note_enrichment_failure(self, lookup: str) -> None:
        self.enrichment_failures[lookup] += 1

    def _take_enrichment_failures(self) -> dict[str, int]:
        failures, self.enrichment_failures = dict(self.enrichment_failures), Counter()
        return failures

    def handle(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        op = message[0]
        if op == "split":
            _, request_id, body, content_type, content_encoding, limits = message
            try:
                items = split_body(body, content_type, content_encoding, limits)
            except BodyError as exc:
                return ("body", exc.status, exc.message)
            self.requests[request_id] = _Request(items)
            return ("ok", len(items))
        if op == "validate":
            _, request_id, start, count = message
            request = self.requests.get(request_id)
            if request is None:
                return ("unknown",)
            try:
                request.validated, reasons = validate_items(
                    self.validator, request.items[start : start + count], time.time(), start=start, into=request.validated
                )
            except RecursionError:  # its failures so far go with the next answer
                return ("recursion",)
            return ("ok", dict(reasons), self._take_enrichment_failures())
        if op == "commit":
            request = self.requests.pop(message[1], None)
            if request is None:
                return ("unknown",)
            validated = request.validated or Validated([], [])
            try:
                counts, duplicates = append_validated(self.buffer, validated.accepted)
            except BufferError as exc:
                fault = exc is self.buffer.fault
                return ("store", type(exc).__name__, str(exc), getattr(exc, "retry_after", None),
                        getattr(exc, "sink", None), getattr(exc, "kind", None), fault, len(validated.accepted))
            except RecursionError:
                return ("recursion",)
            return ("ok", len(validated.accepted), validated.rejected, dict(counts), duplicates)
        raise ValueError(f"unknown ingest operation {op!r}")


def main() -> None:
    """Entry point: ``python -m shippers.sidecar.ingest_child FD PARENT_PID``."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    # Obeyed, a group's SIGINT/SIGTERM would fail the requests the sidecar is draining (503, and their
    # producers resend what may already be stored).
    leave_shutdown_to_parent()
    conn = Connection(socket.socket(fileno=fd).detach())
    settings: IngestSettings = conn.recv()
    child = IngestChild(settings)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "drop":  # never answered: the parent does not wait for it
            child.requests.pop(message[1], None)
            continue
        try:
            answer = child.handle(message)
        except Exception as exc:  # a bug must cost one request an answer, not the process
            answer = ("error", type(exc).__name__)
        conn.send(answer)


if __name__ == "__main__":
    main()
