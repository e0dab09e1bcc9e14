"""nats errors -> the store errors the core knows (BufferUnavailableError, BufferFullError), with what to do.

A producer sees these as a 503 with Retry-After (the sidecar) or as ``emit()`` raising after
``emit_timeout``; an operator sees ``location`` (the servers) and never a credential.
"""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors

from shippers.errors import BufferError, BufferFullError, BufferUnreachableError

# Why: a JetStream leader election takes a few seconds; asking producers back sooner only adds load.
UNAVAILABLE_RETRY_AFTER_SECONDS = 2.0
# Why: a full stream empties only as fast as the slowest sink delivers: the embedded store's pace.
FULL_RETRY_AFTER_SECONDS = 5.0
# JetStream's error code for a stream at its max_bytes / max_msgs with discard = new.
STREAM_FULL_CODES = {10077, 10047}
STREAM_FULL_WORDS = ("maximum bytes", "maximum messages", "resource limits exceeded", "insufficient resources")


def is_stream_full(exc: BaseException) -> bool:
    if not isinstance(exc, nats.js.errors.APIError):
        return False
    description = (exc.description or "").lower()
    return exc.err_code in STREAM_FULL_CODES or any(word in description for word in STREAM_FULL_WORDS)


def store_error(exc: BaseException, location: str, doing: str) -> BufferError:
    """The store error for ``exc`` raised while ``doing`` (e.g. "publishing 10 events") against ``location``."""
    if isinstance(exc, BufferError):
        return exc
    if is_stream_full(exc):
        return BufferFullError(
            f"the JetStream stream at {location} is full ([buffer] max_bytes) while {doing}; retry later, let the sinks "
            "catch up, or raise [buffer] max_bytes", FULL_RETRY_AFTER_SECONDS, kind="store_full")
    # TimeoutError first: the builtin one (asyncio's too) is an OSError
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | nats.errors.TimeoutError):
        what = f"the JetStream cluster at {location} did not answer in time (unreachable, or no quorum)"
    elif isinstance(exc, nats.errors.NoServersError | nats.errors.ConnectionClosedError | nats.errors.StaleConnectionError
                    | nats.errors.ConnectionReconnectingError | OSError):
        what = f"the JetStream cluster at {location} is unreachable"
    elif isinstance(exc, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError):
        what = f"the JetStream cluster at {location} has no stream leader (no quorum: too few servers up?)"
    elif isinstance(exc, nats.js.errors.ServiceUnavailableError):
        what = f"JetStream at {location} is unavailable"
    else:
        what = f"JetStream at {location} refused: {type(exc).__name__}: {exc}"
    advice = ("; what was not acknowledged is not stored: send it again (what the stream holds already counts as a duplicate)"
              if doing.startswith("publishing") else "; try again once the cluster answers")
    return BufferUnreachableError(f"{what} while {doing}{advice}", UNAVAILABLE_RETRY_AFTER_SECONDS)
