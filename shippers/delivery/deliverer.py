"""Delivering recorded batches: each one attempt at a time until it is settled, on the sink thread or its pool.

For one batch::

    wait out the sink-wide pause -> build the request -> adapter.send (ONE attempt) -> Verdict
      -> settle (pure: shippers.delivery.settle) -> execute: one store transaction, pause, status
      -> items left? back off (the retry policy) and attempt again

On shutdown (drain) each batch gets at most one more attempt, and none inside a Retry-After or
backoff deadline: "not before T" holds during the drain too. Such batches stay recorded and are
sent at the next start (the worker's log says how many).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from adapters.contract import Adapter, Verdict
from shippers.buffer.protocol import Buffer
from shippers.buffer.records import BatchRecord
from shippers.delivery.mapping import Mapped, RowMapper
from shippers.delivery.pause import SinkPause
from shippers.delivery.request import build_request
from shippers.delivery.retry import Again, RetryPolicy
from shippers.delivery.settle import Settlement, settle
from shippers.delivery.signals import Signals
from shippers.delivery.status import SinkStatus


@dataclass
class Work:
    """A recorded batch and the items of it still to send."""

    batch: BatchRecord
    items: Sequence[Mapped]
    attempts: int = 0
    extra: list[Work] = field(default_factory=list)  # the halves a split recorded instead
    not_before: float = float("-inf")  # monotonic end of its backoff / Retry-After: the drain does not send before
    pause_waited: int = 0  # the last sink-wide pause (generation) this batch has waited out


class Deliverer:
    """Sends one sink's recorded batches until each is settled (or shutdown)."""

    def __init__(
        self,
        adapter: Adapter,
        mapper: RowMapper,
        buffer: Buffer,
        status: SinkStatus,
        pause: SinkPause,
        policy: RetryPolicy,
        signals: Signals,
        monotonic: Callable[[], float],
        concurrency: int = 1,
    ) -> None:
        self.adapter = adapter
        self.mapper = mapper
        self.buffer = buffer
        self.status = status
        self.pause = pause
        self.policy = policy
        self.signals = signals
        self.monotonic = monotonic
        self._pool = ThreadPoolExecutor(concurrency, f"sink-{status.name}") if concurrency > 1 else None

    def deliver_all(self, work: list[Work]) -> None:
        """Deliver every batch (and the halves of splits), up to ``concurrency`` at once."""
        queue = deque(work)
        stopping = self.signals.stopping
        while queue and not stopping.is_set() and not self.giving_up():
            if self._pool is not None and len(queue) > 1:
                batch = [queue.popleft() for _ in range(len(queue))]
                for done in self._pool.map(self._deliver, batch):
                    queue.extend(done)
            else:
                queue.extend(self._deliver(queue.popleft()))

    def giving_up(self) -> bool:
        """Shutting down and the sink just failed or is paused by a Retry-After: stop here, the buffer keeps the rest."""
        return self.signals.draining.is_set() and (self.status.snapshot()[0] in ("retrying", "failing") or self.pause.seconds_left() > 0)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _deliver(self, work: Work) -> list[Work]:
        """Attempt one batch until it is settled (or shutdown); return the batches a split recorded instead."""

        def waiting(seconds: float) -> None:
            work.not_before = self.monotonic() + seconds

        self.policy.run(lambda: self._attempt(work), stop=self.signals.stopping.is_set, waiting=waiting)
        return work.extra

    def _attempt(self, work: Work) -> Again | None:
        """One attempt; None when nothing is left to attempt now (settled, or shutdown: it stays recorded)."""
        signals = self.signals
        if work.attempts and (signals.stopping.is_set() or (signals.draining.is_set() and self.monotonic() < work.not_before)):
            # shutdown cut the backoff short: no send inside it (a destination that said "not before T" is
            # not hit before T); the batch stays recorded for the next start
            self.pause.skip()
            return None
        waited = self.pause.wait_out(work.pause_waited, signals.shutting_down)
        if waited is None:
            self.pause.skip()
            return None
        work.pause_waited = waited
        request = build_request(work.batch, work.items)
        work.attempts += 1
        try:
            verdict = self.adapter.send(request)
        except Exception as exc:  # the contract says never raise; if it does, it is transient until proven otherwise
            verdict = Verdict.retry(f"{type(exc).__name__}: {exc}")
        settlement = settle(work.batch, work.items, verdict, self.mapper, self.adapter.object_key)
        self._execute(work, settlement)
        if not work.items or signals.draining.is_set():
            return None  # draining: one attempt each; what fails stays recorded for the next start
        failed = settlement.failed
        return Again(settlement.retry_after, long=failed is not None and failed.kind == "sink_error")

    def _execute(self, work: Work, settlement: Settlement) -> None:
        """Do what the settlement says: its store transaction, then the pause and the status."""
        if settlement.store == "settle":
            kept = self.buffer.settle(work.batch, delivered=settlement.delivered, duplicates=settlement.duplicates,
                                      dead=settlement.dead, remaining=settlement.remaining)
            if not kept:  # dropped by drop_oldest meanwhile: nothing left to send or count
                work.items = []
                if settlement.succeeded:
                    self.status.succeeded()
                return
            self.status.counted(delivered=settlement.delivered, duplicates=settlement.duplicates, dead=settlement.dead)
        elif settlement.store == "split":
            records = self.buffer.replace_batch(work.batch, [part.recorded_as() for part in settlement.parts])
            work.extra = [Work(record, part.items) for record, part in zip(records, settlement.parts, strict=False)]
        work.items = settlement.again
        if settlement.failed is not None:
            waited = self.pause.hold(settlement.retry_after)
            if waited is not None:
                work.pause_waited = waited  # its own backoff waits at least this long
            self.status.failed(settlement.failed)
            self.status.count_retry()
        elif settlement.succeeded:
            self.status.succeeded()
