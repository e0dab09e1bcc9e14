"""The sink-wide pause: a Retry-After holds every send until its deadline, each batch waits it out once, and shutdown never sends inside it."""

from __future__ import annotations

from shippers.delivery.pause import SinkPause
from shippers.delivery.retry import RETRY_AFTER_CEILING_SECONDS


class Clock:
    """A monotonic clock that moves only when the pause sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_a_batch_waits_the_pause_out_once() -> None:
    """After hold(30) a batch that has not waited sleeps 30 s; one that waited this pause already does not sleep again."""
    clock = Clock()
    pause = SinkPause(clock, clock.sleep)
    assert pause.hold(30.0) == 1
    assert pause.seconds_left() == 30.0
    assert pause.wait_out(0, lambda: False) == 1
    assert clock.waits == [30.0]
    clock.now -= 10  # as if the (injected) sleep returned early
    assert pause.wait_out(1, lambda: False) == 1
    assert clock.waits == [30.0]


def test_a_shorter_retry_after_does_not_shorten_the_pause() -> None:
    """A 5 s Retry-After during a 30 s pause leaves the deadline and the generation as they were."""
    clock = Clock()
    pause = SinkPause(clock, clock.sleep)
    pause.hold(30.0)
    assert pause.hold(5.0) is None
    assert pause.seconds_left() == 30.0
    assert pause.hold(None) is None


def test_a_longer_retry_after_is_a_new_pause_capped() -> None:
    """A later, longer deadline starts a new pause every batch waits out again; a huge Retry-After is cut at its ceiling."""
    clock = Clock()
    pause = SinkPause(clock, clock.sleep)
    pause.hold(30.0)
    assert pause.hold(10_000.0) == 2
    assert pause.seconds_left() == RETRY_AFTER_CEILING_SECONDS
    assert pause.wait_out(1, lambda: False) == 2


def test_shutdown_never_sends_inside_the_pause() -> None:
    """While shutting down a batch facing the pause is not sent (None) and nothing sleeps; once it is over a batch goes at once."""
    clock = Clock()
    pause = SinkPause(clock, clock.sleep)
    pause.hold(30.0)
    assert pause.wait_out(0, lambda: True) is None
    assert clock.waits == []
    clock.now += 30
    assert pause.wait_out(0, lambda: True) == 0


def test_skipped_batches_are_counted() -> None:
    """Each batch the drain did not send because of a deadline is counted for the shutdown log."""
    pause = SinkPause(Clock(), Clock().sleep)
    pause.skip()
    pause.skip()
    assert pause.skipped == 2
