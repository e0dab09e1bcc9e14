"""gzip for request and object bodies: one place that says which compressor and level we use, and why.

Measured on our own lines (``shippers.samples`` events as each adapter encodes them, bodies of
2,000 lines, best of 7, CPU µs per event for ``compress``; 2-core benchmark machine, zlib 1.2.13,
isal 1.9)::

                 zlib 3        zlib 6        zlib 9*       ISA-L 1       ISA-L 2
    Datadog    7.7x 2.4us    9.4x 4.5us   10.9x 12.6us    7.2x 0.48us   7.4x 0.52us
    S3 OCSF   10.0x 3.0us   13.3x 5.4us   15.3x  9.7us    9.6x 0.54us   9.9x 0.55us
    S3 NDJSON  6.2x 2.1us    7.4x 4.1us    8.1x 13.4us    5.5x 0.44us   5.7x 0.47us
    (* measured on 10,000 lines)

zlib's levels 1-3 cost within 5 % of each other and level 3 compresses best of them; from 4 on it
switches to lazy matching for 40-120 % more CPU. ISA-L (Intel's storage acceleration library,
the ``isal`` package: plain gzip output any reader inflates) at its level 2 compresses within
5 % of zlib's level 3 at a fifth of the CPU, a tenth of zlib's default level 6: it is the default.
A caller that wants smaller bodies for more CPU (an archive kept for years) passes a zlib level.

``mtime=0`` makes the bytes a function of the input alone (a resend is byte-identical).
"""

from __future__ import annotations

import gzip

from isal import igzip

# Why: see the table above: ISA-L level 2 has zlib level 3's ratio for a fifth of its CPU
# (level 3 of ISA-L costs 2.5x more and is not smaller on JSON lines).
FAST_LEVEL = 2
# Why: zlib's range of compression levels (0 would store the bytes uncompressed).
MIN_ZLIB_LEVEL, MAX_ZLIB_LEVEL = 1, 9


def gzipped(data: bytes, zlib_level: int | None = None) -> bytes:
    """``data`` as one gzip member, deterministic: ISA-L's fast level, or zlib at ``zlib_level`` (1-9)."""
    if zlib_level is None:
        return igzip.compress(data, FAST_LEVEL, mtime=0)
    return gzip.compress(data, compresslevel=zlib_level, mtime=0)
