"""One delivery worker per sink: cut batches, send each with one adapter attempt, act on the Verdict.

The loop, for one sink::

    recover recorded batches (crash) -> resend them as cut
    loop: scan past cut_through -> due? (full | oldest waited `timeout` | flush) -> map, check, partition
          -> record the batches (and pre-send dead letters) in ONE transaction -> send each:
             delivered/duplicate -> settle (ack: the watermark may advance)
             per_item            -> settle done + DLQ rejects, keep only the retry items, back off
             retry / sink_error  -> back off (Retry-After honoured; long for sink_error) and resend
             split               -> replace the recorded batch by two halves
             reject              -> everything to the DLQ

Retries use tenacity: exponential backoff with full jitter from ``retry.initial`` up to
``retry.max``, at least ``Retry-After``, and a sleep that wakes up on shutdown. A sink that
keeps failing is marked ``failing``; its backlog stays in the buffer. A Retry-After (429/503)
on one batch pauses the whole sink: at concurrency > 1 every pool thread waits until that
deadline before its next send. The sink's status is updated under a lock (pool threads).

On shutdown (drain) each batch gets at most one more attempt, and none inside a Retry-After
or backoff deadline: "not before T" holds during the drain too. Such batches (and a sink
still paused) stay recorded and are sent at the next start; the log says how many.

Two clocks: ``monotonic`` for every wait and deadline (batch timeouts; sleeps are monotonic
too), ``clock`` (wall) only for what adapters compare with event times and what is stored.

An error no Verdict covers (the store refusing a write: full disk, read-only, I/O error, locked;
or a bug) restarts delivery, never ends the thread: the worker backs off (bounded by
``retry.max``), and after a store error waits until the store takes a write again (recording the
failed attempt is that write) before it resends its recorded batches. Each restart counts as a
retry; the log says it once per kind of error and then at most every STORE_ERROR_LOG_SECONDS.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import tenacity

from adapters.contract import Adapter, Request, Verdict
from shippers.batcher import CODE_REJECTED, CODE_REQUEST_REJECTED, CODE_TOO_LARGE, Batcher, Mapped
from shippers.buffer import BatchRecord, Buffer, DeadItem, NewBatch
from shippers.buffer.faults import is_store_error
from shippers.config import SinkConfig
from shippers.metrics import Metrics

log = logging.getLogger(__name__)

# Why: a worker with nothing to do still looks for events appended by other processes
# (emit() from app workers) this often; in-process appends wake it at once.
IDLE_POLL_SECONDS = 0.5
# Why: after this many failed attempts in a row a sink is reported "failing", not "retrying".
FAILING_AFTER_ATTEMPTS = 5
# Why: a Retry-After is honoured up to 5 minutes; a longer one is more likely a bug than a plan.
RETRY_AFTER_CEILING_SECONDS = 300.0
# Why: 2**32 x any sane initial delay is far past every cap; stops float overflow on long outages.
MAX_BACKOFF_EXPONENT = 32
# Why: a full disk can last hours; one log line per minute says it is still so without flooding the log.
STORE_ERROR_LOG_SECONDS = 60.0


@dataclass
class SinkState:
    """Live state of a sink for status and metrics (the persisted counters live in the buffer)."""

    state: str = "active"  # active | retrying | failing | blocked
    last_error: str | None = None
    consecutive_failures: int = 0


@dataclass
class _Work:
    """A recorded batch and its request, being delivered."""

    batch: BatchRecord
    items: list[Mapped]
    verdict: Verdict | None = None
    attempts: int = 0
    extra: list[_Work] = field(default_factory=list)
    not_before: float = float("-inf")  # monotonic end of its backoff / Retry-After: the drain does not send before
    pause_waited: int = 0  # the last sink-wide pause (generation) this batch has waited out


def backoff_ceiling(initial: float, cap: float, attempt: int) -> float:
    """``initial * 2**(attempt-1)``, capped: the longest wait before retry number ``attempt``."""
    return min(cap, initial * 2 ** min(attempt - 1, MAX_BACKOFF_EXPONENT))


class _Backoff(tenacity.wait.wait_base):
    """Full-jitter exponential backoff, at least Retry-After; sink errors wait the cap."""

    def __init__(self, initial: float, cap: float, rng: random.Random, monotonic: Callable[[], float]) -> None:
        self.initial = initial
        self.cap = cap
        self.rng = rng
        self.monotonic = monotonic

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        work: _Work = retry_state.outcome.result()  # type: ignore[union-attr]
        verdict = work.verdict
        ceiling = backoff_ceiling(self.initial, self.cap, retry_state.attempt_number)
        wait = self.rng.uniform(0, ceiling)
        if verdict is not None and verdict.kind == "sink_error":
            wait = self.rng.uniform(self.cap / 2, self.cap)
        hinted = hinted_retry_after(verdict) if verdict is not None else None
        if hinted:
            wait = max(wait, min(hinted, RETRY_AFTER_CEILING_SECONDS))
        work.not_before = self.monotonic() + wait
        return wait


def hinted_retry_after(verdict: Verdict) -> float | None:
    """The Retry-After a Verdict carries (for per-item answers, the longest of the items to retry)."""
    if verdict.kind == "per_item":
        return max((i.retry_after or 0.0 for i in verdict.items if i.outcome == "retry"), default=0.0) or None
    return verdict.retry_after


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


class SinkWorker:
    """Delivers one sink's events from the buffer through its adapter."""

    def __init__(
        self,
        sink: SinkConfig,
        adapter: Adapter,
        batcher: Batcher,
        buffer: Buffer,
        metrics: Metrics,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = sink.name
        self.sink = sink
        self.adapter = adapter
        self.batcher = batcher
        self.buffer = buffer
        self.metrics = metrics
        self.clock = clock  # wall: adapters' checks of event times (the buffer stamps with its own)
        self.monotonic = monotonic  # batch deadlines
        self.status = SinkState()
        self._status_lock = threading.Lock()  # status is updated from pool threads (concurrency > 1) and ingest
        self._pause_lock = threading.Lock()  # the sink-wide pause and the drain's skip count, from pool threads
        self._paused_until = float("-inf")  # monotonic: no send of this sink before (a Retry-After)
        self._pause_generation = 0  # bumped whenever the deadline moves later
        self._skipped = 0  # drain: batches not sent because of a Retry-After or backoff deadline
        self.wake = threading.Event()
        self.stopping = threading.Event()  # interrupts backoff sleeps: stop now
        self.flush_requested = threading.Event()  # cut regardless of batch timeout
        self.draining = threading.Event()  # shutdown: deliver what is there, then exit
        self.interrupt = threading.Event()  # cuts a backoff sleep short (set on drain and stop)
        self._sleep = sleep or self.interrupt.wait
        self._rng = rng or random.Random()
        self._thread: threading.Thread | None = None
        self._next_deadline: float | None = None
        self._restarts = 0  # restarts in a row without the watermark moving (sets the backoff)
        self._resumed_at: int | None = None  # the watermark when delivery last resumed after an error
        self._logged: tuple[str, float] | None = None  # (what, when) of the last restart logged
        self._unlogged = 0  # restarts since then that were not logged
        self._pool = ThreadPoolExecutor(sink.common.concurrency, f"sink-{sink.name}") if sink.common.concurrency > 1 else None
        retry = sink.common.retry
        self._retrying = tenacity.Retrying(
            sleep=self._sleep,
            wait=_Backoff(retry.initial, retry.max, self._rng, monotonic),
            stop=tenacity.stop_when_event_set(self.stopping),
            retry=tenacity.retry_if_result(self._needs_retry),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )

    # -- life cycle ----------------------------------------------------------
    def start(self) -> None:
        self.batcher.note_backlog(self.buffer.last_seq())  # stored before this start: due at once
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
                    self._deliver_forever()
                    return
                except Exception as exc:  # the store or an adapter failed in a way no Verdict covers
                    if not self._recover(exc):
                        return
        finally:
            if self.draining.is_set():
                self._report_left()
            self.adapter.close()
            if self._pool is not None:
                self._pool.shutdown(wait=False)

    def _recover(self, exc: Exception, /) -> bool:
        """After an error no Verdict covers: back off, and after a store error wait until it takes writes.

        Nothing here may raise: the store that failed is likely to fail again while we record that
        it did. False when shutdown came first (what is recorded is resent at the next start).
        """
        store = is_store_error(exc)
        if self._progressed():
            self._restarts = 0
        self._restarts += 1
        self.batcher.forget_scan()
        reason = f"{exc}" if store else f"internal error, delivery restarted: {type(exc).__name__}: {exc}"
        self._log_restart(exc, reason, store)
        self._failed(Verdict.retry(reason), persist=not store, quiet=True)  # logged above, rate-limited
        self.metrics.retries.labels(self.name).inc()
        retry = self.sink.common.retry
        while not self.stopping.is_set() and not self.draining.is_set():
            self._sleep(backoff_ceiling(retry.initial, retry.max, self._restarts + 1))
            if self.stopping.is_set() or self.draining.is_set():
                break  # shutdown: a store that fails gets no drain
            if store:
                try:  # a probe, then recording the failed attempt: the writes that show the store works again
                    self.buffer.probe_write()
                    self.buffer.note_attempt(self.name, state=self.status.state, error=self.status.last_error, retried=True)
                except Exception as again:
                    self._restarts += 1
                    self._log_restart(again, str(again), True)
                    continue
                log.info("sink %r: the store takes writes again; delivery resumes", self.name)
            self._resumed_at = self._watermark()
            return True
        return False

    def _report_left(self) -> None:
        """At shutdown: say how many recorded batches wait for the next start (never raises)."""
        try:
            left = self.buffer.open_batches(self.name)
        except Exception as exc:
            log.debug("sink %r: could not count the batches left for the restart: %s", self.name, exc)
            return
        if not left:
            return
        skipped = f"; {self._skipped} not sent inside a Retry-After or backoff deadline" if self._skipped else ""
        log.warning("sink %r: shutdown: %s (%s) left recorded for the restart%s; the next start sends them",
                    self.name, plural(len(left), "batch", "batches"), plural(sum(len(b.seqs) for b in left), "event"), skipped)

    def _watermark(self) -> int | None:
        try:
            return self.buffer.position(self.name)[0]
        except Exception:
            return None

    def _progressed(self) -> bool:
        """Whether the watermark moved since delivery last resumed (then the backoff starts over)."""
        if self._resumed_at is None:
            return False
        now = self._watermark()
        return now is not None and now > self._resumed_at

    def _log_restart(self, exc: Exception, reason: str, store: bool) -> None:
        """Log the first restart of a kind in full, then at most every STORE_ERROR_LOG_SECONDS."""
        now = self.monotonic()
        what = f"{type(exc).__name__}:{getattr(exc, 'kind', '')}"
        if self._logged is not None and self._logged[0] == what and now - self._logged[1] < STORE_ERROR_LOG_SECONDS:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more restarts since the last report)" if self._unlogged else ""
        self._logged, self._unlogged = (what, now), 0
        if store:
            log.error("sink %r: the store failed (%s); delivery pauses and resumes by itself once the store takes writes, "
                      "its events stay in the buffer (restart %d in a row)%s", self.name, reason, self._restarts, more)
        else:
            log.error("sink %r: delivery failed unexpectedly; restarting it, its events stay in the buffer (restart %d in a row)%s",
                      self.name, self._restarts, more, exc_info=exc)

    def _deliver_forever(self) -> None:
        if not self._open():
            return
        for batch in self.buffer.open_batches(self.name):
            if self.stopping.is_set():
                return
            log.info("sink %r: resending batch %d (%d events) recorded before a restart", self.name, batch.id, len(batch.seqs))
            work = self._rebuild(batch)
            if work is not None:
                self._deliver_all([work])
        while not self.stopping.is_set() and not self._giving_up():
            if not self._cycle():
                if self.draining.is_set():
                    return
                self.wake.wait(self._idle_wait())
                self.wake.clear()

    def _rebuild(self, batch: BatchRecord) -> _Work | None:
        """A recorded batch, re-cut; rows that no longer map are dead-lettered, not a reason to stop."""
        mapped, failed = self.batcher.rebuild(self.buffer, batch)
        if failed or len(mapped) != len(batch.seqs):
            kept = [m.row.seq for m in mapped]
            if self.buffer.settle(batch, dead=failed, remaining=kept):
                self._count_dead(failed)
            if not kept:
                return None
            batch = BatchRecord(batch.id, batch.sink, batch.partition, batch.key, tuple(kept))
        return _Work(batch, mapped)

    def _open(self) -> bool:
        """Let the adapter prepare the destination; False when shutdown came first.

        A failed setup is retried (a sink_error at the long pace), never a crash; on shutdown
        there is nothing to drain through a sink that never opened, so it stops at once.
        """
        retry = self.sink.common.retry
        attempt = 0
        while not self.stopping.is_set() and not (attempt and self.draining.is_set()):  # drain: one try
            try:
                verdict = self.adapter.open()
            except Exception as exc:
                verdict = Verdict.sink_error(f"setup failed: {type(exc).__name__}: {exc}")
            if verdict is None or verdict.kind == "delivered":
                self._succeeded()
                return True
            attempt += 1
            self._failed(verdict)
            wait = retry.max if verdict.kind == "sink_error" else backoff_ceiling(retry.initial, retry.max, attempt + 1)
            self._sleep(max(wait, min(verdict.retry_after or 0.0, RETRY_AFTER_CEILING_SECONDS)))
        return False

    def _idle_wait(self) -> float:
        """Until the oldest waiting event's batch timeout, or the idle poll, whichever is sooner."""
        if self._next_deadline is None:
            return IDLE_POLL_SECONDS
        return max(0.0, min(IDLE_POLL_SECONDS, self._next_deadline - self.monotonic()))

    # -- cutting -----------------------------------------------------------------
    def _cycle(self) -> bool:
        """Cut and deliver one round; False when there was nothing due."""
        _, cut_through = self.buffer.position(self.name)
        seen = self.monotonic()
        scan = self.batcher.scan(self.buffer, cut_through, seen)
        now = self.clock()
        flush = self.flush_requested.is_set() or self.draining.is_set()
        if not scan.rows:
            if scan.scanned_through > cut_through:
                self.buffer.record_cut(self.name, [], [], scan.scanned_through)
                self.batcher.forget_scan()
            if flush:
                self.flush_requested.clear()
            self._next_deadline = None
            return False
        if not self.batcher.due(scan, seen, flush):
            self._next_deadline = self.batcher.deadline(scan)
            return False
        self.batcher.forget_scan()
        self._next_deadline = None
        cut = self.batcher.cut(scan, now)
        groups = [self._new_batch(partition, [m.row.seq for m in items]) for partition, items in cut.groups]
        records = self.buffer.record_cut(self.name, groups, cut.dead, cut.scanned_through)
        if records or not groups:  # nothing is recorded when drop_oldest moved the cursor meanwhile
            self._count_dead(cut.dead)
        work = [_Work(record, items) for record, (_, items) in zip(records, cut.groups, strict=False)]
        self._deliver_all(work)
        return True

    def _new_batch(self, partition: str, seqs: list[int]) -> NewBatch:
        return NewBatch(partition, self.adapter.object_key(partition, seqs[0], seqs[-1]), seqs)

    # -- delivering ------------------------------------------------------------------
    def _deliver_all(self, work: list[_Work]) -> None:
        queue = deque(work)
        while queue and not self.stopping.is_set() and not self._giving_up():
            if self._pool is not None and len(queue) > 1:
                batch = [queue.popleft() for _ in range(len(queue))]
                for done in self._pool.map(self._deliver, batch):
                    queue.extend(done)
            else:
                queue.extend(self._deliver(queue.popleft()))

    def _deliver(self, work: _Work) -> list[_Work]:
        """Send one batch until it is settled (or shutdown); return batches a split produced."""
        result = self._retrying.copy()(self._attempt, work)
        return result.extra if result is not None else []

    def _needs_retry(self, work: _Work) -> bool:
        if work.verdict is None or not work.items or self.draining.is_set():
            return False  # draining: one attempt each; what fails stays recorded for the next start
        return work.verdict.kind in ("retry", "sink_error", "per_item")

    def _giving_up(self) -> bool:
        """Shutting down and the sink just failed or is paused by a Retry-After: stop here, the buffer keeps the rest."""
        return self.draining.is_set() and (self.status.state in ("retrying", "failing") or self._paused_for() > 0)

    def _paused_for(self) -> float:
        """Seconds left of the sink-wide Retry-After pause (0 or less: none)."""
        with self._pause_lock:
            until = self._paused_until
        return until - self.monotonic()

    def _pause(self, work: _Work, retry_after: float | None) -> None:
        """A 429/503 with Retry-After on this batch: no thread of the sink sends before that deadline."""
        if not retry_after:
            return
        until = self.monotonic() + min(retry_after, RETRY_AFTER_CEILING_SECONDS)
        with self._pause_lock:
            if until > self._paused_until:
                self._paused_until = until
                self._pause_generation += 1
            if until >= self._paused_until:
                work.pause_waited = self._pause_generation  # its own backoff waits at least this long

    def _wait_out_pause(self, work: _Work) -> bool:
        """Before a send: wait until the sink-wide Retry-After deadline; False when shutdown came first (do not send).

        Each pause is waited out once per batch (the sleep may be injected and return early in tests).
        """
        while True:
            with self._pause_lock:
                until, generation = self._paused_until, self._pause_generation
            remaining = until - self.monotonic()
            if remaining <= 0:
                return True
            if self.draining.is_set() or self.stopping.is_set():
                return False  # not before T, also while shutting down: the batch stays recorded
            if work.pause_waited >= generation:
                return True
            self._sleep(remaining)
            work.pause_waited = generation

    def _skip(self, work: _Work) -> _Work:
        work.verdict = None  # no send now; the batch stays recorded for the next start
        with self._pause_lock:
            self._skipped += 1
        return work

    def _attempt(self, work: _Work) -> _Work:
        if work.attempts and (self.stopping.is_set() or (self.draining.is_set() and self.monotonic() < work.not_before)):
            # shutdown cut the backoff short: no send inside it (a destination that said "not before T" is
            # not hit before T); the batch stays recorded for the next start
            return self._skip(work)
        if not self._wait_out_pause(work):
            return self._skip(work)
        request = self.batcher.request(work.batch, work.items)
        work.attempts += 1
        try:
            verdict = self.adapter.send(request)
        except Exception as exc:  # the contract says never raise; if it does, it is transient until proven otherwise
            verdict = Verdict.retry(f"{type(exc).__name__}: {exc}")
        work.verdict = verdict
        self._apply(work, request, verdict)
        return work

    def _apply(self, work: _Work, request: Request, verdict: Verdict) -> None:
        kind = verdict.kind
        batch = work.batch
        if kind in ("delivered", "duplicate"):
            n = len(work.items)
            if self.buffer.settle(batch, delivered=n if kind == "delivered" else 0, duplicates=n if kind == "duplicate" else 0):
                (self.metrics.delivered if kind == "delivered" else self.metrics.duplicates).labels(self.name).inc(n)
            work.items = []
            self._succeeded()
        elif kind == "per_item":
            self._apply_items(work, verdict)
        elif kind == "reject":
            dead = [self.batcher.dead_letter(m.row, CODE_REQUEST_REJECTED, verdict.reason, m) for m in work.items]
            if self.buffer.settle(batch, dead=dead):
                self._count_dead(dead)
            work.items = []
        elif kind == "split":
            work.extra = self._split(work, verdict)
            work.items = []
        else:  # retry | sink_error: the whole request again, after a backoff
            self._pause(work, verdict.retry_after)
            self._failed(verdict)
            self.metrics.retries.labels(self.name).inc()

    def _apply_items(self, work: _Work, verdict: Verdict) -> None:
        if len(verdict.items) != len(work.items):
            self._failed(Verdict.retry(f"the adapter classified {len(verdict.items)} items of a {len(work.items)}-item request"))
            return
        delivered = duplicates = 0
        dead: list[DeadItem] = []
        again: list[Mapped] = []
        for mapped, item in zip(work.items, verdict.items, strict=True):
            if item.outcome == "delivered":
                delivered += 1
            elif item.outcome == "duplicate":
                duplicates += 1
            elif item.outcome == "reject":
                dead.append(self.batcher.dead_letter(mapped.row, CODE_REJECTED, item.reason, mapped))
            else:
                again.append(mapped)
        remaining = [m.row.seq for m in again]
        if not self.buffer.settle(work.batch, delivered=delivered, duplicates=duplicates, dead=dead, remaining=remaining):
            work.items = []  # dropped by drop_oldest meanwhile: nothing left to send or count
            return
        self.metrics.delivered.labels(self.name).inc(delivered)
        self.metrics.duplicates.labels(self.name).inc(duplicates)
        self._count_dead(dead)
        work.items = again
        if again:
            self._pause(work, hinted_retry_after(verdict))
            reason = next(i.reason for i in verdict.items if i.outcome == "retry")
            self._failed(Verdict.retry(f"{len(again)} items to retry: {reason}"))
            self.metrics.retries.labels(self.name).inc()
        else:
            self._succeeded()

    def _split(self, work: _Work, verdict: Verdict) -> list[_Work]:
        items = work.items
        if len(items) == 1:
            dead = [self.batcher.dead_letter(items[0].row, CODE_TOO_LARGE, f"too large even alone: {verdict.reason}", items[0])]
            if self.buffer.settle(work.batch, dead=dead):
                self._count_dead(dead)
            return []
        half = len(items) // 2
        parts = [items[:half], items[half:]]
        records = self.buffer.replace_batch(work.batch, [self._new_batch(work.batch.partition, [m.row.seq for m in p]) for p in parts])
        return [_Work(record, part) for record, part in zip(records, parts, strict=False)]

    # -- state -------------------------------------------------------------------------
    def _count_dead(self, dead: list[DeadItem]) -> None:
        for item in dead:
            self.metrics.dead_lettered.labels(self.name, item.code).inc()

    def status_snapshot(self) -> tuple[str, str | None]:
        """(state, last_error), read together."""
        with self._status_lock:
            return self.status.state, self.status.last_error

    def _succeeded(self) -> None:
        with self._status_lock:  # pool threads: the check, the record and the reset are one step
            if self.status.state != "active":
                self._persist(state="active", error=None, retried=False)
            self.status.state = "active"
            self.status.consecutive_failures = 0
            self.metrics.up.labels(self.name).set(1)

    def mark_blocked(self, reason: str) -> None:
        """The buffer refused producers because this sink is full (when_full = "block")."""
        with self._status_lock:
            self.status.state = "blocked"
            self.status.last_error = reason

    def _failed(self, verdict: Verdict, *, persist: bool = True, quiet: bool = False) -> None:
        with self._status_lock:  # pool threads: count, state and record change together
            status = self.status
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

    def _persist(self, *, state: str, error: str | None, retried: bool) -> None:
        """Record the sink's state in the store for `authlog status`; a store that refuses is no reason to stop."""
        try:
            self.buffer.note_attempt(self.name, state=state, error=error, retried=retried)
        except Exception as exc:  # the error handlers call this: it must not raise what they handle
            log.debug("sink %r: could not record its state in the store: %s", self.name, exc, exc_info=not is_store_error(exc))
