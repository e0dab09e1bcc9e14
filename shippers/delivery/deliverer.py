"""Delivering recorded batches: each one attempt at a time until it is settled, on the sink thread or its pool.

For one batch::

    wait out the sink-wide pause -> build the request -> adapter.send (ONE attempt) -> Verdict
      -> settle (pure: shippers.delivery.settle) -> execute: one store transaction, pause, status
      -> items left? back off (the retry policy) and attempt again

With ``concurrency`` N > 1, :meth:`Deliverer.submit` puts each batch on the sink's pool and returns
as soon as fewer than N are in flight, so the sink loop cuts the next batch while the previous ones
are on the wire (pipelining: mapping and gzip on one thread while another waits for the answer).
Batches may then settle out of order, which the store allows (the watermark passes a batch only
once it is settled). :meth:`Deliverer.wait` returns once nothing is in flight: the sink loop calls
it before it returns, so a send still in progress always keeps the worker alive (and with it the
delivery lock).

On shutdown (drain) each batch gets at most one more attempt, and none inside a Retry-After or
backoff deadline: "not before T" holds during the drain too. Such batches stay recorded and are
sent at the next start (the worker's log says how many).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field

from adapters.contract import Adapter, Verdict
from shippers.buffer.protocol import DeliverySource
from shippers.buffer.records import BatchRecord
from shippers.delivery.daemon_pool import DaemonPool
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
        buffer: DeliverySource,
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
        self.concurrency = concurrency
        self._pool = DaemonPool(concurrency, f"sink-{status.name}") if concurrency > 1 else None
        self._in_flight: set[Future[None]] = set()  # submitted batches (with their splits), touched by the sink thread only

    def submit(self, work: list[Work]) -> None:
        """Start delivering ``work``; returns once fewer than ``concurrency`` batches are in flight (without a pool: once
        delivered). Raises the first error a delivery raised, after every other one in flight ended."""
        if self._pool is None:
            self.deliver_all(work)
            return
        for item in work:
            while len(self._in_flight) >= self.concurrency:
                done, _ = wait_for_futures(self._in_flight, return_when=FIRST_COMPLETED)
                self._reap(done)
            self._in_flight.add(self._pool.submit(self._deliver_chain, item))
        self.reap()

    def reap(self) -> None:
        """Forget the deliveries that ended; raises the first error one raised (the sink loop calls it every cycle)."""
        self._reap([future for future in self._in_flight if future.done()])

    def wait(self) -> None:
        """Until nothing is in flight; raises the first error a delivery raised."""
        while self._in_flight:
            done, _ = wait_for_futures(self._in_flight, return_when=FIRST_COMPLETED)
            self._reap(done)

    def _reap(self, done: Iterable[Future[None]]) -> None:
        """Forget finished deliveries; on an error, let the others end first (a restart resends what they hold)."""
        for future in list(done):
            self._in_flight.discard(future)
            error = future.exception()
            if error is not None:
                wait_for_futures(self._in_flight)
                self._in_flight.clear()
                raise error

    def _deliver_chain(self, work: Work) -> None:
        """One submitted batch and the halves its splits record, until settled (or shutdown)."""
        queue = deque([work])
        try:
            while queue and not self.signals.stopping.is_set() and not self.giving_up():
                queue.extend(self._deliver(queue.popleft()))
        finally:
            self.signals.wake.set()  # the sink loop reaps it now (an error restarts delivery at once)

    def deliver_all(self, work: list[Work]) -> None:
        """Deliver every batch (and the halves of splits), up to ``concurrency`` at once, and return once all are settled."""
        if self._pool is None:
            for item in work:
                self._deliver_chain(item)
            return
        self.submit(work)
        self.wait()

    def giving_up(self) -> bool:
        """Shutting down and the sink just failed or is paused by a Retry-After: stop here, the buffer keeps the rest."""
        return self.signals.draining.is_set() and (self.status.snapshot()[0] in ("retrying", "failing") or self.pause.seconds_left() > 0)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

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
            verdict = Verdict.retry(self.adapter.redact(f"{type(exc).__name__}: {exc}"))
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
