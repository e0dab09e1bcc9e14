"""The object body: a batch's encoded lines as gzip NDJSON (pure; deterministic bytes).

Each item is one line (no newline of its own); the body is ``line\\n`` per item,
gzip-compressed with a zero mtime so the same batch always yields the same bytes
(a resend after a crash carries exactly the object that may already be there), by the fast
default compressor or at the sink's ``gzip_level`` (why and measurements: :mod:`adapters.compression`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from adapters.compression import gzipped

CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
# format = "ocsf-parquet" (the body is built by :mod:`.parquet_body`, compressed inside the file).
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"  # Why: the IANA-registered media type of Parquet (2024)
PARQUET_SUFFIX = ".parquet"
# Why: 128 bits of SHA-256 make an accidental match of two different batches impossible in practice.
BATCH_TAG_HEX = 32


def ndjson(items: Sequence[bytes]) -> bytes:
    """The uncompressed NDJSON body (what batch sizes count)."""
    return b"\n".join([*items, b""]) if items else b""  # the last line's newline in the same join: one copy of the body


def encode_body(items: Sequence[bytes], zlib_level: int | None = None) -> bytes:
    """The gzip NDJSON object body of one batch (the fast default compressor, or zlib at ``zlib_level``)."""
    return gzipped(ndjson(items), zlib_level)


def batch_tag(event_ids: Iterable[str]) -> str:
    """A digest of a batch's event ids, in order: the same batch gives the same tag in any release.

    Built from ids, not bytes, so a resend after an upgrade (a changed mapping) still
    recognises its own object; two different batches at one key never share a tag.
    """
    digest = hashlib.sha256()
    for event_id in event_ids:
        digest.update(event_id.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:BATCH_TAG_HEX]
