"""The sink-wide pause: a Retry-After (429/503) on one batch holds every send of the sink until that deadline.

At concurrency > 1 each pool thread waits out the deadline before its next send, once per
pause: the deadline moving later (a new, longer Retry-After) starts a new pause (a generation)
that every batch waits out again. "Not before T" holds during the drain too: a batch that would
have to wait is not sent, it stays recorded for the next start (counted in ``skipped``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from shippers.delivery.retry import honoured


class SinkPause:
    """The deadline before which no thread of the sink sends (monotonic time), shared by its pool threads."""

    def __init__(self, monotonic: Callable[[], float], sleep: Callable[[float], object]) -> None:
        self.monotonic = monotonic
        self.sleep = sleep
        self._lock = threading.Lock()
        self._until = float("-inf")
        self._generation = 0  # bumped whenever the deadline moves later
        self._skipped = 0

    def hold(self, retry_after: float | None) -> int | None:
        """No send before ``retry_after`` seconds from now (capped); returns the pause the caller has waited out by
        then (its own backoff waits at least this long), None when it asks nothing or an earlier pause is longer."""
        if not retry_after:
            return None
        until = self.monotonic() + honoured(retry_after)
        with self._lock:
            if until > self._until:
                self._until = until
                self._generation += 1
            return self._generation if until >= self._until else None

    def seconds_left(self) -> float:
        """Seconds left of the pause (0 or less: none)."""
        with self._lock:
            until = self._until
        return until - self.monotonic()

    def wait_out(self, waited: int, shutting_down: Callable[[], bool]) -> int | None:
        """Before a send: wait until the deadline, unless pause ``waited`` (a generation) was waited out already.

        Returns the generation waited out now (``waited`` when there was nothing to wait), or None
        when shutdown came first: then the batch must not be sent (the deadline holds while draining).
        """
        while True:
            with self._lock:
                until, generation = self._until, self._generation
            remaining = until - self.monotonic()
            if remaining <= 0:
                return waited
            if shutting_down():
                return None
            if waited >= generation:
                return waited
            self.sleep(remaining)  # may be injected and return early in tests: each pause is waited once
            waited = generation

    def skip(self) -> None:
        """Count a batch the drain did not send because of a Retry-After or backoff deadline."""
        with self._lock:
            self._skipped += 1

    @property
    def skipped(self) -> int:
        with self._lock:
            return self._skipped
