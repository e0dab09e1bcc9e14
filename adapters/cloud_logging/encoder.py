"""The encoder: a LogEntry -> its bytes, and encoded LogEntries -> one ``entries.write`` body within the request limit.

The body is what the client would send for ``write_entries(entries, partial_success=True)``,
built from the already-encoded items so the bytes the core counted are the bytes on the wire::

    {"entries":[<item 0>,<item 1>,...],"partialSuccess":true}

``partialSuccess`` makes the service write every valid entry and report the failed ones
by index (``WriteLogEntriesPartialErrors``) instead of failing the whole request.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from adapters.cloud_logging.config import MAX_REQUEST_BYTES
from adapters.cloud_logging.entry import LogEntry

_HEAD = b'{"entries":['
_TAIL = b'],"partialSuccess":true}'
_encoder = msgspec.json.Encoder()


def encode_entry(entry: LogEntry) -> bytes:
    """One LogEntry (the mapping's Structs) as it sits in the request body: compact UTF-8 JSON."""
    return _encoder.encode(entry)


class RequestTooLarge(ValueError):
    """The items do not fit one request; the caller splits the batch."""


def request_size(items: Sequence[bytes]) -> int:
    """The size of the body :func:`encode_request` would build, without building it."""
    return len(_HEAD) + sum(len(i) for i in items) + max(len(items) - 1, 0) + len(_TAIL)


def encode_request(items: Sequence[bytes]) -> bytes:
    """The JSON body of one ``entries.write`` call; raises RequestTooLarge past the 10 MB cap."""
    size = request_size(items)
    if size > MAX_REQUEST_BYTES:
        raise RequestTooLarge(f"request would be {size} bytes; Cloud Logging accepts at most {MAX_REQUEST_BYTES}")
    return b"".join((_HEAD, b",".join(items), _TAIL))
