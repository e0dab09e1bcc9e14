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
