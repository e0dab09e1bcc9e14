"""The object body: a batch's encoded lines as gzip NDJSON (pure; deterministic bytes).

Each item is one line (no newline of its own); the body is ``line\\n`` per item,
gzip-compressed with a zero mtime so the same batch always yields the same bytes
(a resend after a crash carries exactly the object that may already be there).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
# Why: level 6 (gzip's default) gets ~90% of level 9's ratio on JSON lines at about half the CPU.
GZIP_LEVEL = 6


def ndjson(items: Sequence[bytes]) -> bytes:
    """The uncompressed NDJSON body (what batch sizes count)."""
    return b"".join(item + b"\n" for item in items)


def encode_body(items: Sequence[bytes]) -> bytes:
    """The gzip NDJSON object body of one batch."""
    return gzip.compress(ndjson(items), compresslevel=GZIP_LEVEL, mtime=0)
