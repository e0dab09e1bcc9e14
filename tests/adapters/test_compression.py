"""gzip of request and object bodies: plain gzip any reader inflates, the same bytes every time."""

from __future__ import annotations

import gzip

from adapters.compression import gzipped
from shippers.event import encode_event
from shippers.testing.events import every_type_and_reason, full_event

LINES = b"\n".join(encode_event(full_event(t, r)) for t, r in every_type_and_reason() * 40) + b"\n"


def test_the_fast_default_is_plain_gzip_and_deterministic() -> None:
    """The default compressor's output inflates with the standard library to the input, has no timestamp, and repeats exactly."""
    body = gzipped(LINES)
    assert gzip.decompress(body) == LINES and body[4:8] == b"\0\0\0\0"  # MTIME field of the gzip header
    assert body == gzipped(bytes(LINES)) and len(body) < len(LINES) / 4


def test_a_zlib_level_is_zlibs_own_output() -> None:
    """Asking for a zlib level gives exactly the standard library's gzip at that level (level 9: smaller than the default)."""
    assert gzipped(LINES, 9) == gzip.compress(LINES, compresslevel=9, mtime=0)
    assert len(gzipped(LINES, 9)) < len(gzipped(LINES))
