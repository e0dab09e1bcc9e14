"""One sink's delivery from start to stop: open the adapter, resend what was recorded, then cut and deliver.

The loop::

    open the adapter (retried by the policy; a sink that never opened has nothing to drain)
    recover recorded batches (crash) -> resend them as cut (rows that no longer map: dead letters)
    (a fleet: each cycle, batches taken over from a dead member are resent as it recorded them)
    loop: scan past cut_through -> due? (full | oldest waited `timeout` | flush | drain)
          -> cut (pure) -> record the batches and pre-send dead letters in ONE transaction
          -> submit them (shippers.delivery.deliverer): with concurrency > 1 the next cut starts while
             they are on the wire
          nothing due: sleep until the oldest event's timeout or the idle poll, or a wake-up
          (after which it pauses WAKE_COALESCE_SECONDS, unless flushing or draining: wake-ups coalesce)

Two clocks: ``monotonic`` for every wait and deadline, ``clock`` (wall) only for what adapters
compare with event times (``check_item``).
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.contract import Adapter, Verdict
from shippers.buffer.protocol import DeliverySource
from shippers.buffer.records import BatchRecord
from shippers.delivery.cut import Limits, cut
from shippers.delivery.deliverer import Deliverer, Work
from shippers.delivery.log import log
from shippers.delivery.mapping import RowMapper
from shippers.delivery.retry import Again, RetryPolicy
from shippers.delivery.scan import RowSource, Scanner
from shippers.delivery.signals import Signals
from shippers.delivery.status import SinkStatus

# Why: a worker with nothing to do still looks for events appended by other processes
# (emit() from app workers) this often; in-process appends wake it at once.
IDLE_POLL_SECONDS = 0.5
# Why: emit() from many threads commits a small group every ~0.1 ms and each commit wakes every sink; a
# sink woken while nothing was due looks again after this pause, so thousands of scans (and store reads)
# a second become at most ~200, and the pause is far below any batch timeout. A flush or a drain looks at once.
WAKE_COALESCE_SECONDS = 0.005


class SinkLoop:
    """Cuts one sink's batches as they come due and hands them to its Deliverer."""

    def __init__(
        self,
        adapter: Adapter,
        scanner: Scanner,
        mapper: RowMapper,
        limits: Limits,
        buffer: DeliverySource,
        deliverer: Deliverer,
        status: SinkStatus,
        policy: RetryPolicy,
        signals: Signals,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        rows: RowSource | None = None,
    ) -> None:
        self.name = status.name
        self.adapter = adapter
        self.scanner = scanner
        self.mapper = mapper
        self.limits = limits
        self.buffer = buffer
        self.rows: RowSource = buffer if rows is None else rows  # what scans read (the fan-out's shared window)
        self.deliverer = deliverer
        self.status = status
        self.policy = policy
        self.signals = signals
        self.clock = clock
        self.monotonic = monotonic
        self._next_deadline: float | None = None
        self.pace: Callable[[float], object] = signals.stopping.wait  # the pause after a wake-up (a stop cuts it short)

    def run(self) -> None:
        """Deliver until stopped, or until drained on shutdown; errors no Verdict covers propagate (the worker restarts)."""
        signals = self.signals
        if not self._open():
            return
        for batch in self.buffer.open_batches(self.name):
            if signals.stopping.is_set():
                return
            log.info("sink %r: resending batch %d (%d events) recorded before a restart", self.name, batch.id, len(batch.seqs))
            work = self._rebuild(batch)
            if work is not None:
                self.deliverer.deliver_all([work])
        try:
            while not signals.stopping.is_set() and not self.deliverer.giving_up():
                if not self._cycle():
                    if signals.draining.is_set():
                        return
                    if signals.wake.wait(self._idle_wait()) and not (signals.flush.is_set() or signals.shutting_down()):
                        self.pace(WAKE_COALESCE_SECONDS)  # let the commits of the next few ms arrive first
                    signals.wake.clear()
        finally:
            self.deliverer.wait()  # a send in flight keeps this worker (and the delivery lock) alive until it returns

    def _open(self) -> bool:
        """Let the adapter prepare the destination; False when shutdown came first.

        A failed setup is retried (a sink_error at the long pace), never a crash; on shutdown
        there is nothing to drain through a sink that never opened, so it stops at once.
        """

        def attempt() -> Again | None:
            try:
                verdict = self.adapter.open()
            except Exception as exc:
                verdict = Verdict.sink_error(self.adapter.redact(f"setup failed: {type(exc).__name__}: {exc}"))
            if verdict is None or verdict.kind == "delivered":
                self.status.succeeded()
                return None
            self.status.failed(verdict)
            return Again(verdict.retry_after, long=verdict.kind == "sink_error")

        return self.policy.run(attempt, stop=self.signals.shutting_down)  # draining: one try

    def _rebuild(self, batch: BatchRecord) -> Work | None:
        """A recorded batch, re-cut; rows that no longer map are dead-lettered, not a reason to stop."""
        mapped, failed = self.mapper.rebuild(self.buffer.read(batch.seqs))
        if failed or len(mapped) != len(batch.seqs):
            kept = [m.row.seq for m in mapped]
            if self.buffer.settle(batch, dead=failed, remaining=kept):
                self.status.counted(dead=failed)
            if not kept:
                return None
            batch = BatchRecord(batch.id, batch.sink, batch.partition, batch.key, tuple(kept))
        return Work(batch, mapped)

    def _idle_wait(self) -> float:
        """Until the oldest waiting event's batch timeout, or the idle poll, whichever is sooner."""
        if self._next_deadline is None:
            return IDLE_POLL_SECONDS
        return max(0.0, min(IDLE_POLL_SECONDS, self._next_deadline - self.monotonic()))

    def _cycle(self) -> bool:
        """Cut and deliver one round; False when there was nothing due."""
        signals = self.signals
        self.deliverer.reap()  # a batch in flight that failed in a way no Verdict covers restarts delivery now
        for batch in self.buffer.adopted_batches(self.name):  # a fleet: a dead member's recorded batch, resent as it was cut
            log.info("sink %r: resending batch %d (%d events) recorded by another member", self.name, batch.id, len(batch.seqs))
            work = self._rebuild(batch)
            if work is not None:
                self.deliverer.submit([work])
        _, cut_through = self.buffer.position(self.name)
        seen = self.monotonic()
        scan = self.scanner.scan(self.rows, cut_through, seen)
        now = self.clock()
        flush = signals.flush.is_set() or signals.draining.is_set()
        if not scan.rows:
            if scan.scanned_through > cut_through:  # only rows it does not route: move past them
                self.buffer.record_cut(self.name, [], [], scan.scanned_through)
                self.scanner.forget_scan()
            if flush:
                signals.flush.clear()
            self._next_deadline = None
            return False
        if not self.scanner.due(scan, seen, flush):
            self._next_deadline = self.scanner.deadline(scan)
            return False
        self.scanner.forget_scan()
        self._next_deadline = None
        made = cut(scan.rows, self.mapper, self.limits, now)
        records = self.buffer.record_cut(self.name, [b.recorded_as() for b in made.batches], made.dead, scan.scanned_through)
        if records or not made.batches:  # nothing is recorded when drop_oldest moved the cursor meanwhile
            self.status.counted(dead=made.dead)
        self.deliverer.submit([Work(record, b.items) for record, b in zip(records, made.batches, strict=False)])
        return True
