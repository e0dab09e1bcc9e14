"""The clock's text for an event sent without a time is exactly what format_time writes, whatever came before."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from shippers.time_text import NowText, format_time

# Why these bounds: fromtimestamp's range in UTC on this platform (years 1-9999).
EARLIEST, LATEST = -62135596800.0, 253402300799.0
readings = st.floats(min_value=EARLIEST, max_value=LATEST, allow_nan=False) | st.integers(0, 2_000_000_000).map(lambda s: s + 0.5)


def _expected(now: float) -> str:
    return format_time(datetime.fromtimestamp(now, UTC))


@settings(deadline=None, max_examples=400)
@given(st.lists(readings, min_size=1, max_size=6), st.integers(0, 2_000_000_000), st.lists(st.integers(0, 999_999), max_size=6))
def test_now_text_matches_format_time(readings_seen: list[float], second: int, micros: list[int]) -> None:
    """Any readings, and several within one second (a kept prefix reused), give format_time's text exactly."""
    now_text = NowText()
    same_second = [second + micro / 1e6 for micro in micros] + [float(second), second + 0.001, second + 0.999_999_7]
    for now in [*readings_seen, *same_second, *readings_seen]:
        assert now_text(now) == _expected(now), now


def test_a_new_second_is_written_afresh() -> None:
    """The kept second is replaced when the clock leaves it, even by a microsecond's rounding."""
    now_text = NowText()
    assert now_text(1_764_000_000.999) == "2025-11-24T16:00:00.999Z"
    assert now_text(1_764_000_000.9999996) == "2025-11-24T16:00:01.000Z"  # rounds up into the next second
    assert now_text(1_764_000_000.5) == "2025-11-24T16:00:00.500Z"
    assert now_text(1_764_000_000.123456) == "2025-11-24T16:00:00.123456Z"
