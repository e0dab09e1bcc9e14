"""Read a request body with a size cap, for the fake destinations.

aiohttp's server already undoes ``Content-Encoding: gzip`` and ``deflate``
before the handler sees the body, so what we read here is the *uncompressed*
payload, which is what the destinations' size limits are about. We stream it
instead of calling ``request.read()`` so a fake can answer an oversized body
with the destination's own error shape (not aiohttp's plain-text 413), and we
keep draining past the cap, so the client always gets to read that answer
instead of a reset connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

# Why: reading in 64 KiB steps keeps memory flat while we count an oversized body.
_CHUNK_BYTES = 64 * 1024
# Why: past this we stop counting; no honest client sends 256 MiB to a log intake,
# and a decompression bomb must not keep the fake busy forever.
_DRAIN_CEILING_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Body:
    """A request body as the handler sees it."""

    data: bytes  # the uncompressed body; empty when ``over_limit``
    size: int  # uncompressed bytes received (counting stops at the drain ceiling)
    wire_size: int | None  # Content-Length as sent, i.e. the compressed size when encoded
    encoding: str | None  # Content-Encoding as sent, if any
    over_limit: bool  # True when the uncompressed body is larger than the cap
    undecodable: bool = False  # True when the compressed stream was corrupt


async def read_body(request: web.Request, cap: int) -> Body:
    """Read at most ``cap`` uncompressed bytes; past that, count and discard the rest."""
    chunks: list[bytes] = []
    size = 0
    undecodable = False
    try:
        while size <= _DRAIN_CEILING_BYTES:
            chunk = await request.content.read(_CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if size <= cap:
                chunks.append(chunk)
    except Exception:
        undecodable = True
    over = size > cap
    return Body(
        data=b"" if over or undecodable else b"".join(chunks),
        size=size,
        wire_size=request.content_length,
        encoding=request.headers.get("Content-Encoding"),
        over_limit=over,
        undecodable=undecodable,
    )
