"""Read a ``Retry-After`` header (RFC 9110): delta-seconds or an HTTP date, as seconds from ``now``.

Every destination may send one (Elasticsearch, S3, Cloud Logging, Datadog, our own sidecar);
the common classifier (:mod:`shippers.delivery.classify`) reads it for every adapter and the
producer client for the sidecar; the worker honours it, capped. A value that cannot be read is ``None`` (fall back to backoff),
never an error: a malformed header must not stop delivery.

An HTTP date is measured from the answer's own ``Date`` header when it has a readable one: both
are the server's clock, so a step of our wall clock (an hour back, a day forward) neither
stretches the wait nor skips it. Without a ``Date`` it is measured from our wall clock ``now``.
"""

from __future__ import annotations

import math
from datetime import UTC
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: float, date: str | None = None) -> float | None:
    """Seconds to wait (>= 0), or None when the header is absent or unreadable; ``date`` is the answer's Date header."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    moment = _http_date(text)
    if moment is None:
        return None
    sent = _http_date(date.strip()) if date else None
    return max(moment - (now if sent is None else sent), 0.0)


def _http_date(text: str) -> float | None:
    """An HTTP date as seconds since the epoch, or None when it cannot be read."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
