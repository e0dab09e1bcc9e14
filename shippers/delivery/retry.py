"""One retry policy for everything a sink retries: opening the adapter, sending a batch, restarting delivery.

Exponential backoff with full jitter: the wait before retry ``n`` is uniform in
``[0, min(retry.max, retry.initial * 2**(n-1))]``; a sink error (misconfigured, unauthorised) waits
at the long pace, uniform in ``[retry.max / 2, retry.max]``; either waits at least the
destination's Retry-After, honoured up to RETRY_AFTER_CEILING_SECONDS. The sleep wakes up on
shutdown (the sink's ``interrupt`` event). Clock, sleep and randomness are injected, so the
policy is tested without sleeping::

    policy.run(attempt, stop=...)   attempt() -> None (done) | Again(retry_after, long) (failed)
        attempt, [stop?] wait delay(1), [stop?] attempt, [stop?] wait delay(2), ...
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import NamedTuple

# Why: a Retry-After is honoured up to 5 minutes; a longer one is more likely a bug than a plan.
RETRY_AFTER_CEILING_SECONDS = 300.0
# Why: 2**32 x any sane initial delay is far past every cap; stops float overflow on long outages.
MAX_BACKOFF_EXPONENT = 32


class Again(NamedTuple):
    """A failed attempt, and what it says about the wait before the next one."""

    retry_after: float | None = None  # the destination's "not before" (seconds)
    long: bool = False  # a sink error: wait at the long pace


def backoff_ceiling(initial: float, cap: float, attempt: int) -> float:
    """``initial * 2**(attempt-1)``, capped: the longest wait before retry number ``attempt``."""
    return min(cap, initial * 2 ** min(attempt - 1, MAX_BACKOFF_EXPONENT))


def honoured(retry_after: float | None) -> float:
    """How long a Retry-After is waited: all of it, up to the ceiling (0 for none)."""
    return min(retry_after or 0.0, RETRY_AFTER_CEILING_SECONDS)


class RetryPolicy:
    """Backoff arithmetic and the waiting loop for one sink (``retry.initial``, ``retry.max``)."""

    def __init__(
        self,
        initial: float,
        cap: float,
        wake: threading.Event,
        *,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.sleep: Callable[[float], object] = sleep or wake.wait  # wakes up when ``wake`` is set (shutdown)
        self.rng = rng or random.Random()

    def delay(self, failures: int, again: Again) -> float:
        """Seconds to wait after ``failures`` failed attempts in a row, the last of which said ``again``."""
        if again.long:
            wait = self.rng.uniform(self.cap / 2, self.cap)
        else:
            wait = self.rng.uniform(0, backoff_ceiling(self.initial, self.cap, failures))
        return max(wait, honoured(again.retry_after))

    def run(
        self,
        attempt: Callable[[], Again | None],
        *,
        stop: Callable[[], bool],
        failures: int = 0,
        waiting: Callable[[float], None] | None = None,
    ) -> bool:
        """Call ``attempt`` until it returns None (True) or ``stop()`` holds around a wait (False).

        With ``failures`` > 0 that many attempts failed already (a restart): the run begins with
        the wait. ``waiting(seconds)`` is told each wait before it starts (a batch's "not before").
        """
        again: Again | None = Again() if failures else None
        while True:
            if again is not None:
                if stop():
                    return False
                wait = self.delay(failures, again)
                if waiting is not None:
                    waiting(wait)
                self.sleep(wait)
                if stop():
                    return False
            again = attempt()
            if again is None:
                return True
            failures += 1
