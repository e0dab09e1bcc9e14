"""Turn one ``POST /v1/events`` body into the bytes of its items, or say precisely why not.

Pure functions, no I/O: the handler reads the (size-capped) body and calls
:func:`split_body`, which

1. checks ``Content-Encoding`` (identity or gzip) and ``Content-Type`` (JSON or NDJSON) -> 415,
2. gunzips with a hard output cap (:func:`gunzip_capped`): ``max_body_bytes`` is counted
   *after* decompression, so a gzip bomb is a 413 long before it fills memory,
3. splits the document into items without validating them:

   - ``application/json`` starting with ``[``: an array; each element is one item (msgspec
     decodes it as ``list[Raw]``, so elements are sliced, not parsed into Python objects),
   - ``application/json`` otherwise: one item (a JSON object, or a scalar the validator rejects),
   - ``application/x-ndjson``: each non-blank line is one item; its index is its position
     among non-blank lines. A line that is not JSON is *not* a 400: it stays an item and the
     validator rejects it alone.

Every failure is a :class:`BodyError` carrying the HTTP status and a message saying what
was wrong and what to do. Item *validation* is not done here: it is the shipper's job.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import msgspec

# Why: DESIGN.md's content types; "application/ndjson" and "application/jsonl" are the
# spellings other tools (Vector, Fluent Bit, jq users) send for the same thing.
JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"})
# Why: "x-gzip" is the same coding (RFC 9110 section 8.4.1.3 asks recipients to accept it).
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
IDENTITY_ENCODINGS = frozenset({"", "identity"})
# Why: zlib's gzip-only window: a body that is zlib/deflate but labelled gzip is refused.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
# Why: decompress in 256 KiB steps so the cap is checked often without a call per byte.
_GUNZIP_STEP = 256 * 1024
_WHITESPACE = b" \t\r\n"

# msgspec raises RecursionError past Python's recursion limit (~1000 levels); no event is that deep.
_TOO_DEEP = "the body is nested too deeply to read; an event is a flat object ('details' at most 8 levels deep)"
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_raw_one = msgspec.json.Decoder(msgspec.Raw)


class BodyError(Exception):
    """The body cannot be turned into items: ``status`` is the HTTP answer, ``message`` what to do."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The two per-request caps of ``[server]``."""

    max_body_bytes: int
    max_events: int


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header ('' when absent)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def check_headers(content_type: str | None, content_encoding: str | None) -> tuple[bool, bool]:
    """(is_ndjson, is_gzip) for acceptable headers; raise a 415 :class:`BodyError` otherwise.

    A missing Content-Type is read as JSON (``curl --data-binary @file`` with no header).
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in GZIP_ENCODINGS:
        gzipped = True
    elif encoding in IDENTITY_ENCODINGS:
        gzipped = False
    else:
        raise BodyError(
            415, f"Content-Encoding '{encoding[:40]}' is not supported; send the body uncompressed or with Content-Encoding: gzip"
        )
    kind = media_type(content_type)
    if kind in NDJSON_TYPES:
        return True, gzipped
    if kind in JSON_TYPES or kind == "":
        return False, gzipped
    raise BodyError(
        415,
        f"Content-Type '{kind[:60]}' is not supported; send application/json (one event object or an array of them) "
        "or application/x-ndjson (one event per line)",
    )


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip body (several members allowed) without ever producing more than ``max_bytes``."""
    out = bytearray()
    rest = data
    while True:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        pending = rest
        try:
            while pending and not inflater.eof:
                room = max_bytes + 1 - len(out)
                out += inflater.decompress(pending, min(room, _GUNZIP_STEP))
                if len(out) > max_bytes:
                    raise _too_large(max_bytes, after_gunzip=True)
                pending = inflater.unconsumed_tail
            while not inflater.eof:
                # Input is exhausted; drain what zlib still buffers, a step at a time.
                chunk = inflater.decompress(b"", min(max_bytes + 1 - len(out), _GUNZIP_STEP))
                out += chunk
                if len(out) > max_bytes:
                    raise _too_large(max_bytes, after_gunzip=True)
                if not chunk:
                    break
        except zlib.error as exc:
            raise BodyError(400, f"the gzip body is corrupt ({exc}); compress it with gzip or drop Content-Encoding") from None
        if not inflater.eof:
            raise BodyError(400, "the gzip body is truncated; send the whole compressed body")
        rest = inflater.unused_data
        if not rest.strip(b"\x00"):  # some writers pad the last member with zeros
            return bytes(out)


def _too_large(max_bytes: int, after_gunzip: bool = False) -> BodyError:
    what = "decompressed body" if after_gunzip else "body"
    return BodyError(
        413, f"the {what} is over server.max_body_bytes ({max_bytes} bytes); send fewer events per request"
    )


def split_json(body: bytes) -> list[bytes]:
    """Items of an ``application/json`` body: an array's elements, or the one document."""
    start = body.lstrip(_WHITESPACE)[:1]
    if not start:
        raise BodyError(400, "the body is empty; send one event object, an array of them, or NDJSON")
    if start == b"[":
        try:
            return [bytes(raw) for raw in _raw_list.decode(body)]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BodyError(400, f"the body is not a valid JSON array ({exc}); fix the JSON or send NDJSON") from None
        except RecursionError:
            raise BodyError(400, _TOO_DEEP) from None
    try:
        return [bytes(_raw_one.decode(body))]
    except msgspec.DecodeError as exc:
        hint = (
            "; several events go in a JSON array or in NDJSON with Content-Type: application/x-ndjson"
            if "trailing characters" in str(exc)
            else ""
        )
        raise BodyError(400, f"the body is not valid JSON ({exc}){hint}") from None
    except RecursionError:
        raise BodyError(400, _TOO_DEEP) from None


def split_ndjson(body: bytes) -> list[bytes]:
    """Items of an NDJSON body: every non-blank line, stripped; its index is its place among them."""
    items = []
    for line in body.split(b"\n"):
        item = line.strip(_WHITESPACE)
        if item:
            items.append(item)
    return items


def split_body(raw: bytes, content_type: str | None, content_encoding: str | None, limits: BodyLimits) -> list[bytes]:
    """The items of one request body; raises :class:`BodyError` with the status to answer."""
    ndjson, gzipped = check_headers(content_type, content_encoding)
    if gzipped:
        body = gunzip_capped(raw, limits.max_body_bytes)
    elif len(raw) > limits.max_body_bytes:
        raise _too_large(limits.max_body_bytes)
    else:
        body = raw
    items = split_ndjson(body) if ndjson else split_json(body)
    if not items:
        raise BodyError(400, "the body holds no events; send at least one event object")
    if len(items) > limits.max_events:
        raise BodyError(
            413,
            f"{len(items)} events in one request; server.max_events_per_request is {limits.max_events}: "
            "split the batch into smaller requests",
        )
    return items
