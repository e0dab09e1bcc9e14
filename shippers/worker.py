"""One delivery worker per sink: the thread that runs its :class:`~shippers.delivery.sink_loop.SinkLoop`.

It puts the sink's delivery layers together (docs/TEAM-NOTES.md, "Delivery layers"): the scan
(:mod:`shippers.delivery.scan`), the pure cut and settle, the Deliverer and its pool, the sink-wide
pause, one retry policy for open, send and restart, and the status bookkeeping. The Shipper
steers it through its events (``wake``, ``flush_requested``, ``draining``, ``stopping``,
``interrupt``; shutdown order in ``Shipper.close``).

An error no Verdict covers (the store refusing a write, or a bug) restarts delivery, never ends
the thread (:mod:`shippers.delivery.restart`). At shutdown it says how many recorded batches
wait for the next start.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from adapters.contract import Adapter, BatchLimits
from shippers.buffer.protocol import Buffer
from shippers.config import SinkConfig
from shippers.delivery.cut import Limits
from shippers.delivery.deliverer import Deliverer
from shippers.delivery.log import log
from shippers.delivery.mapping import RowMapper
from shippers.delivery.pause import SinkPause
from shippers.delivery.restart import Restarts
from shippers.delivery.retry import RetryPolicy
from shippers.delivery.scan import Scanner
from shippers.delivery.shared_rows import SharedRows, SinkRows, decode_row
from shippers.delivery.signals import Signals
from shippers.delivery.sink_loop import SinkLoop
from shippers.delivery.status import SinkState, SinkStatus
from shippers.metrics import Metrics
from shippers.pii import SinkPii
from shippers.routing import Route


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def batch_limits(sink: SinkConfig, adapter: Adapter) -> BatchLimits:
    """The sink's ``[sinks.X.batch]`` keys over its adapter's defaults."""
    defaults, overrides = adapter.batch_defaults, sink.common.batch
    return BatchLimits(
        max_events=overrides.max_events or defaults.max_events,
        max_bytes=overrides.max_bytes or defaults.max_bytes,
        timeout=defaults.timeout if overrides.timeout is None else overrides.timeout,
    )


class SinkWorker:
    """Delivers one sink's events from the buffer through its adapter, on its own thread."""

    def __init__(
        self,
        sink: SinkConfig,
        adapter: Adapter,
        route: Route,
        limits: BatchLimits,
        pii: SinkPii,
        buffer: Buffer,
        metrics: Metrics,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        shared: SharedRows | None = None,
    ) -> None:
        self.name = sink.name
        self.adapter = adapter
        self.buffer = source = buffer.delivery_source(sink.name)  # this process's view of the sink (Buffer protocol docstring)
        self.metrics = metrics
        self.signals = signals = Signals()
        self.wake, self.flush_requested, self.draining = signals.wake, signals.flush, signals.draining
        self.stopping, self.interrupt = signals.stopping, signals.interrupt
        retry = sink.common.retry
        policy = RetryPolicy(retry.initial, retry.max, signals.interrupt, sleep=sleep, rng=rng)
        self.sink_status = status = SinkStatus(sink.name, source, metrics)
        self.pause = SinkPause(monotonic, policy.sleep)
        within = Limits.within(limits, adapter.hard_limits)
        concurrency = sink.common.concurrency or adapter.default_concurrency  # plugins.effective_concurrency, adapter built
        self.scanner = Scanner(route, within, limits.timeout, concurrency)
        # The rows and decoded events this process's sinks share (one store read and one decode per row for all);
        # a sink with a source of its own (a fleet's consumer) reads and decodes what its source hands it.
        rows: SinkRows | None = None
        decode = decode_row
        if source is buffer:
            shared = SharedRows(buffer) if shared is None else shared
            rows, decode = shared.for_sink(sink.name), shared.decode
        mapper = RowMapper(adapter, pii, decode)
        self.deliverer = Deliverer(adapter, mapper, source, status, self.pause, policy, signals, monotonic, concurrency)
        self.loop = SinkLoop(adapter, self.scanner, mapper, within, source, self.deliverer, status, policy, signals, clock, monotonic,
                             rows)  # fmt: skip
        self.restarts = Restarts(sink.name, source, status, policy, signals, monotonic)
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> SinkState:
        """The live state (read it whole with :meth:`status_snapshot`)."""
        return self.sink_status.current

    def status_snapshot(self) -> tuple[str, str | None]:
        """(state, last_error), read together."""
        return self.sink_status.snapshot()

    def mark_blocked(self, reason: str) -> None:
        """The buffer refused producers because this sink is full (when_full = "block")."""
        self.sink_status.mark_blocked(reason)

    # -- life cycle ----------------------------------------------------------
    def start(self) -> None:
        self.scanner.note_backlog(self.buffer.last_seq())  # stored before this start: due at once
        self.metrics.up.labels(self.name).set(1)
        self.metrics.dropped.labels(self.name)  # export 0 from the start, not only after a first drop
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.name}", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        """Deliver until stopped; an unexpected error restarts delivery (after a backoff), never ends it."""
        try:
            while not self.stopping.is_set():
                try:
                    self.loop.run()
                    return
                except Exception as exc:  # the store or an adapter failed in a way no Verdict covers
                    self.scanner.forget_scan()
                    if not self.restarts.recover(exc):
                        return
        finally:
            if self.draining.is_set():
                self._report_left()
            self.adapter.close()
            self.deliverer.close()

    def _report_left(self) -> None:
        """At shutdown: say how many recorded batches wait for the next start (never raises)."""
        try:
            left = self.buffer.open_batches(self.name)
        except Exception as exc:
            log.debug("sink %r: could not count the batches left for the restart: %s", self.name, exc)
            return
        if not left:
            return
        skipped = self.pause.skipped
        said = f"; {skipped} not sent inside a Retry-After or backoff deadline" if skipped else ""
        log.warning("sink %r: shutdown: %s (%s) left recorded for the restart%s; the next start sends them",
                    self.name, plural(len(left), "batch", "batches"), plural(sum(len(b.seqs) for b in left), "event"), said)
