"""The clock's text for an event sent without a time is exactly what format_time writes; TextWindow's text comparisons agree with parsing."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from shippers.time_text import NowText, TextWindow, format_time

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


# Instants for "now" (2001-2100); offsets in microseconds (up to ±86.4 ms) put event times close to a window's bounds.
_NOWS = st.floats(min_value=1e9, max_value=4.1e9, allow_nan=False)
_OFFSETS = st.floats(min_value=-86_400.0, max_value=86_400.0, allow_nan=False)


@settings(max_examples=3000, deadline=None)
@given(_NOWS, _OFFSETS, st.floats(min_value=0.0, max_value=86_400.0), st.integers(min_value=-3, max_value=3))
def test_a_time_surely_inside_the_window_is_inside_when_parsed(now: float, offset: float, span: float, nudge: int) -> None:
    """Whenever TextWindow says a canonical time is inside, its parsed instant is inside too, at either bound."""
    earliest, latest = now - span, now + span
    for bound in (earliest, latest):
        moment = bound + offset / 1e6 + nudge * 1e-3  # near each bound, within microseconds and milliseconds
        text = format_time(datetime.fromtimestamp(moment, UTC))
        window = TextWindow(earliest, latest)
        if window.surely_inside(text):
            parsed = datetime.fromisoformat(text).timestamp()
            assert earliest < parsed < latest and earliest < int(parsed * 1000) / 1000 < latest
    far_inside = format_time(datetime.fromtimestamp(now, UTC))
    assert span < 0.1 or TextWindow(earliest, latest).surely_inside(far_inside)  # not a window that says nothing


def test_texts_of_other_shapes_are_left_to_the_exact_check() -> None:
    """An offset other than Z, a space for T, or another precision is never judged by text."""
    window = TextWindow(None, None)
    assert window.surely_inside("2026-11-25T19:34:33.123Z") and window.surely_inside("2026-11-25T19:34:33.123456Z")
    for text in ("2026-11-25T19:34:33.123+01:00", "2026-11-25 19:34:33.123Z", "2026-11-25T19:34:33Z", "2026-11-25T19:34:33.1234Z"):
        assert not window.surely_inside(text)
