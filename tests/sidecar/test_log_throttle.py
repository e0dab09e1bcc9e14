"""The repeat filter: the first of a message passes, repeats within the interval are counted, the next one says how many."""

from __future__ import annotations

import logging

from shippers.sidecar.log_throttle import MAX_KEYS, RepeatFilter, throttled


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, *args: object, name: str = "asyncio", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_within_the_interval_are_dropped_then_counted() -> None:
    """1000 copies in one interval give one line; the first after the interval carries the count of the 999 dropped."""
    clock = _Clock()
    repeat = RepeatFilter(interval=60.0, clock=clock)
    passed = [repeat.filter(_record("socket.accept() out of system resource\nsocket: <fd=7>")) for _ in range(1000)]
    assert passed.count(True) == 1 and passed[0]
    clock.now += 61.0
    later = _record("socket.accept() out of system resource\nsocket: <fd=9>")
    assert repeat.filter(later)
    assert "999 more like this in the last 61s were not logged" in later.getMessage()


def test_the_key_is_the_template_not_its_arguments() -> None:
    """Messages from one template with different arguments count as repeats; a different template passes."""
    repeat = RepeatFilter(interval=60.0, clock=_Clock())
    assert repeat.filter(_record("refusing connection from %s", "10.0.0.1"))
    assert not repeat.filter(_record("refusing connection from %s", "10.0.0.2"))
    assert repeat.filter(_record("another message %s", "x"))
    assert repeat.filter(_record("refusing connection from %s", "10.0.0.3", level=logging.WARNING))


def test_a_counted_template_with_arguments_still_formats() -> None:
    """The count appended to a %s template leaves it formattable with its arguments."""
    clock = _Clock()
    repeat = RepeatFilter(interval=1.0, clock=clock)
    repeat.filter(_record("bad %s", "a"))
    repeat.filter(_record("bad %s", "b"))
    clock.now += 2.0
    record = _record("bad %s", "c")
    assert repeat.filter(record)
    assert record.getMessage() == "bad c (1 more like this in the last 2s were not logged)"


def test_the_key_table_stays_bounded() -> None:
    """A flood of distinct messages never grows the table past MAX_KEYS."""
    repeat = RepeatFilter(interval=60.0, clock=_Clock())
    for index in range(MAX_KEYS * 3):
        repeat.filter(_record(f"distinct {index}"))
    assert len(repeat._seen) <= MAX_KEYS


def test_throttled_installs_and_removes_the_filter() -> None:
    """Inside the block repeats on a named logger are dropped; after it they pass again."""
    logger = logging.getLogger("authlog.test-throttle")
    seen: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = _Keep()
    logger.addHandler(handler)
    try:
        with throttled(("authlog.test-throttle",)):
            for _ in range(5):
                logger.error("same")
        logger.error("same")
    finally:
        logger.removeHandler(handler)
    assert seen == ["same", "same"]
