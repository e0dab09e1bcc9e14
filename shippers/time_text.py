"""An event's time as text: RFC 3339 in UTC with a ``Z`` (what every archive line holds).

:func:`format_time` writes any aware datetime. :class:`NowText` writes the clock's reading the
same way for an event sent without a time (most ``emit()`` calls), keeping the text of the
current second: ``datetime.isoformat`` is most of the 1.5 µs that ``format_time`` costs.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: milliseconds, or microseconds when they carry information."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


class NowText:
    """``format_time(datetime.fromtimestamp(now, UTC))``, with the text up to the second kept while it lasts.

    One (second, text) pair replaced whole: threads sharing it read either the old pair or the new one.
    """

    def __init__(self) -> None:
        self._second: tuple[int, str] | None = None

    def __call__(self, now: float) -> str:
        moment = datetime.fromtimestamp(now, UTC)
        micro = moment.microsecond
        # The whole second the datetime holds (a rounding carry included): within float error of an integer,
        # far below 0.5 s for any year datetime takes. Cheaper than moment.replace(microsecond=0) (0.56 µs).
        second = round(now - micro / 1e6)
        kept = self._second
        if kept is None or kept[0] != second:
            # "YYYY-MM-DDTHH:MM:SS" as format_time writes it (isoformat without a fraction, offset cut off)
            kept = self._second = (second, moment.isoformat(timespec="seconds")[:-6])
        return f"{kept[1]}.{micro // 1000:03d}Z" if micro % 1000 == 0 else f"{kept[1]}.{micro:06d}Z"
