"""Restarting a sink's delivery after an error no Verdict covers: the store refusing a write, or a bug.

The worker never ends on such an error: it backs off (the sink's retry policy, counted as a
retry), and after a store error (full disk, read-only, I/O error, locked) it waits until the store
takes a write again (a probe, then recording the failed attempt) before it resends its recorded
batches. The log says it once per kind of error and then at most every STORE_ERROR_LOG_SECONDS.
Nothing here raises: the store that failed is likely to fail again while we record that it did.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.contract import Verdict
from shippers.buffer.faults import is_store_error
from shippers.buffer.protocol import DeliverySource
from shippers.delivery.log import log
from shippers.delivery.retry import Again, RetryPolicy
from shippers.delivery.signals import Signals
from shippers.delivery.status import SinkStatus

# Why: a full disk can last hours; one log line per minute says it is still so without flooding the log.
STORE_ERROR_LOG_SECONDS = 60.0


class Restarts:
    """Counts restarts in a row (the backoff grows with them until the watermark moves) and waits each one out."""

    def __init__(
        self, name: str, buffer: DeliverySource, status: SinkStatus, policy: RetryPolicy, signals: Signals, monotonic: Callable[[], float]
    ) -> None:
        self.name = name
        self.buffer = buffer
        self.status = status
        self.policy = policy
        self.signals = signals
        self.monotonic = monotonic
        self._in_a_row = 0  # restarts without the watermark moving (sets the backoff)
        self._resumed_at: int | None = None  # the watermark when delivery last resumed after an error
        self._logged: tuple[str, float] | None = None  # (what, when) of the last restart logged
        self._unlogged = 0  # restarts since then that were not logged

    def recover(self, exc: Exception, /) -> bool:
        """Back off after ``exc``, and after a store error wait until it takes writes; False when shutdown came first
        (what is recorded is resent at the next start)."""
        store = is_store_error(exc)
        if self._progressed():
            self._in_a_row = 0
        self._in_a_row += 1
        reason = f"{exc}" if store else f"internal error, delivery restarted: {type(exc).__name__}: {exc}"
        self._log(exc, reason, store)
        self.status.failed(Verdict.retry(reason), persist=not store, quiet=True)  # logged above, rate-limited
        self.status.count_retry()
        probe = self._probe if store else _nothing_to_probe
        if not self.policy.run(probe, stop=self.signals.shutting_down, failures=self._in_a_row):
            return False  # shutdown: a store that fails gets no drain
        self._resumed_at = self._watermark()
        return True

    def _probe(self) -> Again | None:
        """A probe, then recording the failed attempt: the writes that show the store works again."""
        try:
            self.buffer.probe_write()
            self.status.persist()
        except Exception as again:
            self._in_a_row += 1
            self._log(again, str(again), True)
            return Again()
        log.info("sink %r: the store takes writes again; delivery resumes", self.name)
        return None

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

    def _log(self, exc: Exception, reason: str, store: bool) -> None:
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
                      "its events stay in the buffer (restart %d in a row)%s", self.name, reason, self._in_a_row, more)
        else:
            log.error("sink %r: delivery failed unexpectedly; restarting it, its events stay in the buffer (restart %d in a row)%s",
                      self.name, self._in_a_row, more, exc_info=exc)


def _nothing_to_probe() -> None:
    """After a bug (not a store error) the wait alone is the recovery."""
    return None
