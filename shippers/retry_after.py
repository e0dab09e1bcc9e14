"""Read a ``Retry-After`` header (RFC 9110): delta-seconds or an HTTP date, as seconds from ``now``.

Every destination may send one (Elasticsearch, S3, Cloud Logging, Datadog, our own sidecar);
the worker honours it, capped. A value that cannot be read is ``None`` (fall back to backoff),
never an error: a malformed header must not stop delivery.
"""

from __future__ import annotations

import math
from datetime import UTC
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait (>= 0), or None when the header is absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return max(moment.timestamp() - now, 0.0)
