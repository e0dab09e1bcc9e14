"""Datadog logs -> the bytes the intake counts, and the checks that keep a request inside its limits.

The SDK serialises the request body itself (``json.dumps`` of the array, default separators,
ASCII escapes), so we count with the *same* serialisation: ``encode_log`` returns exactly
the bytes one log occupies in the body the SDK sends, and the body of ``n`` logs is::

    "[" + ", ".join(encode_log(log) for log in logs) + "]"   ->  sum(sizes) + 2 * (n - 1) + 2 bytes

so a batch whose item sizes sum to at most ``HARD_LIMITS.max_bytes`` is never over the
5 MB payload limit, whatever the characters (non-ASCII text grows up to 6x as ``\\uXXXX``
and is counted that way). Pure functions only; gzip happens in the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from adapters.datadog.config import (
    MAX_FUTURE_SECONDS,
    MAX_LOG_BYTES,
    MAX_LOGS_PER_REQUEST,
    MAX_PAST_SECONDS,
    MAX_PAYLOAD_BYTES,
)

_SEPARATOR_BYTES = len(", ")
_BRACKET_BYTES = len("[]")


def encode_log(log: dict[str, Any]) -> bytes:
    """One log exactly as the SDK's ``json.dumps`` writes it into the request body."""
    return json.dumps(log).encode("ascii")


def body_bytes(items: Sequence[bytes]) -> int:
    """Uncompressed size of the JSON array body made of these encoded logs."""
    return sum(len(item) for item in items) + _SEPARATOR_BYTES * max(len(items) - 1, 0) + _BRACKET_BYTES


def over_limits(items: Sequence[bytes]) -> str | None:
    """Why a request of these logs would break the intake's per-request limits, or None."""
    if len(items) > MAX_LOGS_PER_REQUEST:
        return f"{len(items)} logs in one request; the Datadog intake takes at most {MAX_LOGS_PER_REQUEST}"
    size = body_bytes(items)
    if size > MAX_PAYLOAD_BYTES:
        return f"request body is {size} bytes uncompressed; the Datadog intake takes at most {MAX_PAYLOAD_BYTES}"
    return None


def too_large(item: bytes) -> str | None:
    """Why one encoded log must be dead-lettered for its size, or None."""
    if len(item) > MAX_LOG_BYTES:
        return (
            f"log is {len(item)} bytes; Datadog silently truncates logs over {MAX_LOG_BYTES} bytes, "
            "so it was dead-lettered instead (shrink its details)"
        )
    return None


def outside_window(epoch_ms: int, now: float) -> str | None:
    """Why an event dated ``epoch_ms`` must be dead-lettered at time ``now`` (epoch seconds), or None."""
    age = now - epoch_ms / 1000.0
    if age > MAX_PAST_SECONDS:
        return (
            f"event time is {age / 3600:.1f} h old; Datadog drops logs older than {MAX_PAST_SECONDS // 3600} h, "
            "so it was dead-lettered instead"
        )
    if -age > MAX_FUTURE_SECONDS:
        return (
            f"event time is {-age / 3600:.1f} h in the future; Datadog drops logs more than "
            f"{MAX_FUTURE_SECONDS // 3600} h ahead, so it was dead-lettered instead (check the producer's clock)"
        )
    return None
