"""The one retry policy: full-jitter exponential backoff, the long pace for sink errors, Retry-After honoured and capped,
and a run loop that stops on shutdown, all without sleeping."""

from __future__ import annotations

import random
import threading

import pytest

from shippers.delivery.retry import RETRY_AFTER_CEILING_SECONDS, Again, RetryPolicy, backoff_ceiling


class Highest(random.Random):
    """An rng whose uniform(a, b) is always b: the longest wait the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Lowest(random.Random):
    """An rng whose uniform(a, b) is always a: the shortest wait the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return a


class Sleeps:
    """An injected sleep that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def policy(rng: random.Random, sleep: Sleeps | None = None, initial: float = 1.0, cap: float = 10.0) -> RetryPolicy:
    return RetryPolicy(initial, cap, threading.Event(), sleep=sleep or Sleeps(), rng=rng)


def test_the_longest_wait_doubles_up_to_the_cap() -> None:
    """Retry n waits at most initial * 2**(n-1), never more than retry.max."""
    assert [policy(Highest()).delay(n, Again()) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_ceiling(1.0, 10.0, 10_000) == 10.0  # no overflow on a long outage


def test_full_jitter_may_wait_nothing() -> None:
    """The shortest wait of an ordinary retry is zero (full jitter), and a seeded rng stays within the ceiling."""
    assert policy(Lowest()).delay(5, Again()) == 0.0
    seeded = policy(random.Random(7))
    assert all(0.0 <= seeded.delay(n, Again()) <= backoff_ceiling(1.0, 10.0, n) for n in range(1, 50))


def test_a_sink_error_waits_at_the_long_pace() -> None:
    """A sink error waits between half of retry.max and retry.max, from the first retry on."""
    assert policy(Lowest()).delay(1, Again(long=True)) == 5.0
    assert policy(Highest()).delay(1, Again(long=True)) == 10.0


@pytest.mark.parametrize(("retry_after", "waited"), [(30.0, 30.0), (0.5, 1.0), (10_000.0, RETRY_AFTER_CEILING_SECONDS)])
def test_a_retry_after_is_waited_at_least_and_capped(retry_after: float, waited: float) -> None:
    """The wait is at least the Retry-After (up to its ceiling), and never shorter than the backoff drawn."""
    assert policy(Highest()).delay(1, Again(retry_after)) == waited


def test_run_attempts_until_done_and_waits_between() -> None:
    """Two failures then success: three attempts, two waits, each told beforehand."""
    sleeps, told = Sleeps(), []
    answers = iter([Again(), Again(retry_after=20.0), None])
    assert policy(Highest(), sleeps).run(lambda: next(answers), stop=lambda: False, waiting=told.append)
    assert sleeps.waits == told == [1.0, 20.0]


def test_run_stops_after_a_failed_attempt_without_waiting() -> None:
    """Shutdown already under way when an attempt fails: no wait, no further attempt, False."""
    sleeps, calls = Sleeps(), []
    assert not policy(Highest(), sleeps).run(lambda: calls.append(1) or Again(), stop=lambda: True)
    assert (calls, sleeps.waits) == ([1], [])


def test_run_stops_when_shutdown_comes_during_a_wait() -> None:
    """Shutdown arriving while it waits ends the run before another attempt."""
    stopped = threading.Event()
    calls: list[int] = []

    def sleep(seconds: float) -> None:
        stopped.set()

    run = RetryPolicy(1.0, 10.0, threading.Event(), sleep=sleep, rng=Highest()).run
    assert not run(lambda: calls.append(1) or Again(), stop=stopped.is_set)
    assert calls == [1]


def test_a_run_after_failures_begins_with_the_wait() -> None:
    """A restart after three failures in a row waits the fourth backoff first, then attempts."""
    sleeps, calls = Sleeps(), []
    assert policy(Highest(), sleeps, cap=60.0).run(lambda: calls.append(1), stop=lambda: False, failures=3)
    assert (sleeps.waits, calls) == ([4.0], [1])


def test_the_default_sleep_wakes_on_shutdown() -> None:
    """Without an injected sleep, a wait of an hour ends as soon as the wake event is set."""
    wake = threading.Event()
    sleeper = threading.Thread(target=RetryPolicy(1.0, 3600.0, wake).sleep, args=(3600.0,), daemon=True)
    sleeper.start()
    wake.set()
    sleeper.join(10)
    assert not sleeper.is_alive()
