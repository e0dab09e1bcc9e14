"""A sink's live state and its outcome counters: what ``/v1/status`` and the metrics show while it delivers.

The state changes under one lock (pool threads at concurrency > 1 and the ingest thread that
marks a full sink "blocked" update it at once); a change is recorded in the store too
(``Buffer.note_attempt``), so ``authlog status`` without a sidecar shows it. The persisted
counters (delivered, retries...) live in the store; these are their live metric twins.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.contract import Verdict
from shippers.buffer.faults import is_store_error
from shippers.buffer.protocol import DeliverySource
from shippers.buffer.records import DeadItem
from shippers.delivery.log import log
from shippers.metrics import Metrics

# Why: after this many failed attempts in a row a sink is reported "failing", not "retrying".
FAILING_AFTER_ATTEMPTS = 5


@dataclass
class SinkState:
    """Live state of a sink for status and metrics (the persisted counters live in the buffer)."""

    state: str = "active"  # active | retrying | failing | blocked
    last_error: str | None = None
    consecutive_failures: int = 0


class SinkStatus:
    """One sink's state, metrics and their record in the store."""

    def __init__(self, name: str, buffer: DeliverySource, metrics: Metrics) -> None:
        self.name = name
        self.buffer = buffer
        self.metrics = metrics
        self.current = SinkState()
        self._lock = threading.Lock()

    def snapshot(self) -> tuple[str, str | None]:
        """(state, last_error), read together."""
        with self._lock:
            return self.current.state, self.current.last_error

    def succeeded(self) -> None:
        with self._lock:  # pool threads: the check, the record and the reset are one step
            if self.current.state != "active":
                self._persist(state="active", error=None, retried=False)
            self.current.state = "active"
            self.current.consecutive_failures = 0
            self.metrics.up.labels(self.name).set(1)

    def failed(self, verdict: Verdict, *, persist: bool = True, quiet: bool = False) -> None:
        """One more failure in a row: retrying, or failing after FAILING_AFTER_ATTEMPTS (at once for a sink error)."""
        with self._lock:  # pool threads: count, state and record change together
            status = self.current
            status.consecutive_failures += 1
            attempts = status.consecutive_failures
            status.last_error = verdict.reason
            failing = verdict.kind == "sink_error" or attempts >= FAILING_AFTER_ATTEMPTS
            status.state = "failing" if failing else "retrying"
            self.metrics.up.labels(self.name).set(0)
            if persist:
                self._persist(state=status.state, error=verdict.reason, retried=True)
        if not quiet:
            log.warning("sink %r: %s (%s, attempt %d in a row)", self.name, verdict.reason, verdict.kind, attempts)

    def mark_blocked(self, reason: str) -> None:
        """The buffer refused producers because this sink is full (when_full = "block")."""
        with self._lock:
            self.current.state = "blocked"
            self.current.last_error = reason

    def persist(self) -> None:
        """Record the state as it is (a write that shows a failed store takes writes again); raises what the store raises."""
        state, error = self.snapshot()
        self.buffer.note_attempt(self.name, state=state, error=error, retried=True)

    def _persist(self, *, state: str, error: str | None, retried: bool) -> None:
        """Record the sink's state in the store for `authlog status`; a store that refuses is no reason to stop."""
        try:
            self.buffer.note_attempt(self.name, state=state, error=error, retried=retried)
        except Exception as exc:  # the error handlers call this: it must not raise what they handle
            log.debug("sink %r: could not record its state in the store: %s", self.name, exc, exc_info=not is_store_error(exc))

    # -- counters -------------------------------------------------------------------------
    def counted(self, *, delivered: int = 0, duplicates: int = 0, dead: Sequence[DeadItem] = ()) -> None:
        """Count what a settle recorded."""
        if delivered:
            self.metrics.delivered.labels(self.name).inc(delivered)
        if duplicates:
            self.metrics.duplicates.labels(self.name).inc(duplicates)
        for item in dead:
            self.metrics.dead_lettered.labels(self.name, item.code).inc()

    def count_retry(self) -> None:
        self.metrics.retries.labels(self.name).inc()
