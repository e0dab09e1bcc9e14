"""Retry-After headers are read the way RFC 9110 writes them, relative to the injected clock, and junk never breaks delivery."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from shippers.retry_after import parse_retry_after

NOW = 1_795_635_273.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),  # a negative delay means "now"
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW - 90, usegmt=True), 0.0),  # a date in the past means "now"
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Delta-seconds and HTTP dates become seconds from now; absent or unreadable values are None."""
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("our_step", [-3600.0, 0.0, 86_400.0])
def test_an_http_date_is_measured_from_the_answers_date_whatever_our_clock_says(our_step: float) -> None:
    """With the answer's Date header, an HTTP-date Retry-After is the server's own delta: our clock an hour back or a day ahead changes nothing."""
    server_now = NOW
    value = formatdate(server_now + 45, usegmt=True)
    assert parse_retry_after(value, NOW + our_step, formatdate(server_now, usegmt=True)) == 45.0


@pytest.mark.parametrize("date", [None, "", "yesterday"])
def test_without_a_readable_date_an_http_date_is_measured_from_now(date: str | None) -> None:
    """An absent or unreadable Date header falls back to our clock; delta-seconds never look at Date."""
    assert parse_retry_after(formatdate(NOW + 90, usegmt=True), NOW, date) == 90.0
    assert parse_retry_after("7", NOW, formatdate(NOW - 3600, usegmt=True)) == 7.0
