"""Turn one ``POST /v1/events`` body into the bytes of its items, or say precisely why not.

Pure functions, no I/O: the handler reads the (size-capped) body and calls
:func:`split_body` on a worker thread (never on the event loop), which

1. checks ``Content-Encoding`` (identity or gzip) and ``Content-Type`` (JSON or NDJSON) -> 415,
2. gunzips with a hard output cap (:func:`gunzip_capped`): ``max_body_bytes`` is counted
   *after* decompression, so a gzip bomb is a 413 long before it fills memory; at most
   ``MAX_GZIP_MEMBERS`` members, each handed only the input near it (linear work),
3. splits the document into items without validating them:

   - ``application/json`` starting with ``[``: an array; each element is one item (msgspec
     decodes it as ``list[Raw]``, so elements are sliced, not parsed into Python objects).
     msgspec recurses, so an element nested past Python's recursion limit (~1000 levels)
     makes it give up on the whole array: the array is then split by :func:`scan_array`,
     which does not recurse, and the deep element becomes one item the validator rejects
     alone (``too_deep``); its neighbours are kept,
   - ``application/json`` otherwise: one item (a JSON object, or a scalar the validator
     rejects; an object too deep to read too),
   - ``application/x-ndjson``: each non-blank line is one item; its index is its position
     among non-blank lines. A line that is not JSON is *not* a 400: it stays an item and the
     validator rejects it alone.

   Splitting stops as soon as there are more than ``max_events`` items (a 413), and no single
   C call (which holds the GIL, so the event loop waits for it) handles more than a bounded
   amount: blank runs are skipped in steps, and an array dense with commas is counted
   element by element before it is decoded (:func:`_count_array_items`).

Every failure is a :class:`BodyError` carrying the HTTP status and a message saying what
was wrong and what to do. Item *validation* is not done here: it is the shipper's job.
"""

from __future__ import annotations

import json
import re
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
# Why: a member is first handed this much input, doubling up to _GUNZIP_STEP: what zlib copies
# back as unused_data after a member ends is then at most twice that member's size, so a body
# of many tiny members costs linear work, not members x body (issue 10, finding 6).
_GUNZIP_FIRST_INPUT = 64
# Why: concatenated gzip members are legal (RFC 1952) and some writers emit one per batch;
# thousands of them are a body built to burn CPU (a member costs a decompressor each).
MAX_GZIP_MEMBERS = 1000
# Why: msgspec decodes an array in one call that holds the GIL (the event loop waits for it):
# ~35 ns per element, so up to this many commas (elements) stays well under 100 ms.
DIRECT_DECODE_MAX_COMMAS = 500_000
# Why: blank runs are searched this much at a time, so one regex call stays short (GIL again).
_SCAN_STEP = 256 * 1024
_WHITESPACE = b" \t\r\n"
_NOT_BLANK = re.compile(rb"[^ \t\r\n]")
_BLANKS = re.compile(rb"[ \t\r\n]*")
# msgspec says where a value ended when bytes follow it: "... trailing characters (byte N)",
# N being one past the first byte after the value (a changed wording only costs the fast count).
_TRAILING_AT = re.compile(r"trailing characters \(byte (\d+)\)")

# scan_array's view of the bytes between strings: at the array's own level a comma ends an
# element; inside an element only brackets and strings matter (its commas are its own).
_AT_TOP = re.compile(rb'[\[\]{},"]')
_IN_ELEMENT = re.compile(rb'[\[\]{}"]')
_OPEN_RUN = re.compile(rb"[\[{]+")
_CLOSE_RUN = re.compile(rb"[\]}]+")
# The inside of a JSON string up to its closing quote: plain bytes and backslash escapes
# (unrolled, so no backtracking: linear in the string).
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_CLOSER = bytes.maketrans(b"[{", b"]}")
# Why: inside an element too deep for msgspec each bracket run or string is one Python step
# (~1.5 us); no event is that deep, so such an element is hostile, and past this many steps
# (~0.3 s of the validator thread) the body is refused rather than scanned on (a 400).
MAX_DEEP_SCAN_STEPS = 200_000
_QUOTE, _COMMA, _CLOSE_ARRAY = ord('"'), ord(","), ord("]")
# Why: a header quoted back in a 415 is enough to recognise it, not a way to echo a kilobyte.
MAX_QUOTED_HEADER_CHARS = 60

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


def _quote_header(value: str, cap: int) -> str:
    """A header's text, safe to put in any answer: cut to ``cap`` characters, then ASCII with escapes.

    aiohttp hands a non-UTF-8 byte over as a lone surrogate, which JSON cannot carry; ascii()
    spells it (and any control character) as a backslash escape instead.
    """
    return ascii(value[:cap])[1:-1]


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
            415, f"Content-Encoding '{_quote_header(encoding, MAX_QUOTED_HEADER_CHARS)}' is not supported; send the body uncompressed or with Content-Encoding: gzip"
        )
    kind = media_type(content_type)
    if kind in NDJSON_TYPES:
        return True, gzipped
    if kind in JSON_TYPES or kind == "":
        return False, gzipped
    raise BodyError(
        415,
        f"Content-Type '{_quote_header(kind, MAX_QUOTED_HEADER_CHARS)}' is not supported; send application/json (one event object or an array of them) "
        "or application/x-ndjson (one event per line)",
    )


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip body (several members allowed) without ever producing more than ``max_bytes``.

    Linear in ``len(data)``: the input is handed to zlib in windows that start small for each
    member, so the remainder zlib copies back when a member ends is never the whole body.
    Zero bytes after the last member (padding some writers add) end the body; anything else
    after it is a 400, more than :data:`MAX_GZIP_MEMBERS` members a 413.
    """
    view = memoryview(data)
    out = bytearray()
    pos = 0  # the first input byte no decompressor has been handed yet
    members = 0
    while True:
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise BodyError(
                413, f"the gzip body has more than {MAX_GZIP_MEMBERS} gzip members; compress the whole body as one gzip stream"
            )
        inflater = zlib.decompressobj(_GZIP_WBITS)
        window = _GUNZIP_FIRST_INPUT
        pending: bytes | memoryview = b""
        try:
            while not inflater.eof:
                if not pending and pos < len(data):
                    pending = view[pos : pos + window]
                    pos += len(pending)
                    window = min(window * 2, _GUNZIP_STEP)
                chunk = inflater.decompress(pending, min(max_bytes + 1 - len(out), _GUNZIP_STEP))
                out += chunk
                if len(out) > max_bytes:
                    raise _too_large(max_bytes, after_gunzip=True)
                pending = inflater.unconsumed_tail
                if not chunk and not pending and pos >= len(data) and not inflater.eof:
                    break  # input exhausted and nothing buffered: truncated
        except zlib.error as exc:
            raise BodyError(400, f"the gzip body is corrupt ({exc}); compress it with gzip or drop Content-Encoding") from None
        if not inflater.eof:
            raise BodyError(400, "the gzip body is truncated; send the whole compressed body")
        pos -= len(inflater.unused_data)  # what this member was handed beyond its end
        if pos >= len(data):
            return bytes(out)
        if data[pos] == 0:  # some writers pad the last member with zeros
            if data.count(0, pos) == len(data) - pos:
                return bytes(out)
            raise BodyError(400, "the gzip body has bytes after its zero padding; send only the compressed body")


def _too_large(max_bytes: int, after_gunzip: bool = False) -> BodyError:
    what = "decompressed body" if after_gunzip else "body"
    return BodyError(
        413, f"the {what} is over server.max_body_bytes ({max_bytes} bytes); send fewer events per request"
    )


def split_json(body: bytes, max_events: int | None = None) -> list[bytes]:
    """Items of an ``application/json`` body: an array's elements, or the one document.

    With ``max_events``, an array of more elements than that is a 413 found without decoding
    them all (see :func:`_count_array_items`).
    """
    start = body.lstrip(_WHITESPACE)[:1]
    if not start:
        raise BodyError(400, "the body is empty; send one event object, an array of them, or NDJSON")
    if start == b"[":
        try:
            if max_events is not None and body.count(b",") > DIRECT_DECODE_MAX_COMMAS:
                counted = _count_array_items(body, max_events)
                if counted is not None and counted > max_events:
                    raise _too_many(f"more than {max_events}", max_events)
            raws = _raw_list.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # One element msgspec cannot read for its text alone (a lone surrogate "\ud800", invalid
            # UTF-8 in a string) must not cost the others, as in NDJSON: when the array is otherwise
            # well formed, that element is an item the validator rejects alone (see _add_element).
            try:
                return scan_array(body, max_events)
            except BodyError as structural:
                if structural.status != 400:
                    raise
                raise _not_an_array(str(exc)) from None  # msgspec names the first bad byte
        except RecursionError:
            # msgspec raises RecursionError (not DecodeError) past Python's recursion limit: one
            # element that deep must not cost the others, so split without recursing.
            return scan_array(body, max_events)
        if max_events is not None and len(raws) > max_events:
            raise _too_many(str(len(raws)), max_events)
        return [bytes(raw) for raw in raws]
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
        # Too deep to read: still one item, which the validator rejects as too_deep (a 422 saying so).
        return [body.strip(_WHITESPACE)]


def _not_an_array(problem: str) -> BodyError:
    return BodyError(400, f"the body is not a valid JSON array ({problem}); fix the JSON or send NDJSON")


def scan_array(body: bytes, max_events: int | None = None) -> list[bytes]:
    """The elements of the JSON array ``body``, split without recursion (for arrays too deep for msgspec).

    One pass over the bytes: msgspec skips each shallow element in one call; inside a deep
    one, strings are skipped (escapes included), its brackets are tracked on a stack (so a
    ``]`` that closes a ``{`` is caught), and a comma at the array's own level ends an element.
    Each element is then checked alone with msgspec; one too deep even for that is kept whole
    (the validator rejects it alone). Linear in ``len(body)``: every regex call covers at most
    ``_SCAN_STEP`` bytes (a bounded hold on the GIL) and a run of brackets is one step; past
    ``MAX_DEEP_SCAN_STEPS`` steps inside deep elements the body is refused. Stops (413) at the
    element past ``max_events``. Anything malformed around the elements is a 400 that says
    what and where (byte offset or element index).
    """
    size = len(body)
    pos = _BLANKS.match(body).end()
    if body[pos : pos + 1] != b"[":
        raise _not_an_array("it does not start with '['")
    pos += 1
    view = memoryview(body)
    items: list[bytes] = []
    start = pos  # where the current element begins
    fresh = True  # nothing of the current element has been looked at yet
    opened = bytearray()  # the current element's open brackets, innermost last
    steps = 0  # steps taken inside elements (bounded by MAX_DEEP_SCAN_STEPS)
    while True:
        if pos >= size:
            raise _not_an_array(f"the array (or element {len(items)}) is not closed: the body ends at byte {size}")
        if fresh:  # let msgspec skip a shallow element in one call; only a deep one is scanned
            fresh = False
            skipped = _skip_value(body, view, pos)
            if skipped is not None:
                pos = skipped
                continue
        if opened:
            steps += 1
            if steps > MAX_DEEP_SCAN_STEPS:
                raise _not_an_array(
                    f"element {len(items)} is nested too deeply to read and holds too many brackets and strings to "
                    "split safely; no event is nested past 8 levels: flatten it"
                )
        end = min(pos + _SCAN_STEP, size)
        found = (_IN_ELEMENT if opened else _AT_TOP).search(body, pos, end)
        if found is None:
            pos = end
            continue
        at = found.start()
        char = body[at]
        if char == _QUOTE:
            pos = _skip_string(body, at + 1, len(items))
        elif char == _COMMA:
            _add_element(items, body[start:at], max_events)
            start = pos = at + 1
            fresh = True
        elif char in b"[{":
            pos = _OPEN_RUN.match(body, at, end).end()  # type: ignore[union-attr]
            opened += body[at:pos]
        elif opened:  # a run of closing brackets, at most as many as are open
            pos = _CLOSE_RUN.match(body, at, min(end, at + len(opened))).end()  # type: ignore[union-attr]
            closing = body[at:pos]
            if closing != opened[len(opened) - len(closing) :][::-1].translate(_CLOSER):
                raise _not_an_array(f"element {len(items)}: a bracket at byte {at}..{pos} does not close the one it should")
            del opened[len(opened) - len(closing) :]
        elif char == _CLOSE_ARRAY:  # the array's own end
            if items or body[start:at].strip(_WHITESPACE):
                _add_element(items, body[start:at], max_events)
            rest = _next_non_blank(body, at + 1)
            if rest is not None:
                raise _not_an_array(f"text after the array at byte {rest}; send one array per request")
            return items
        else:
            raise _not_an_array(f"a '}}' at byte {at} closes nothing")


def _skip_value(body: bytes, view: memoryview, pos: int) -> int | None:
    """The index just past the JSON value that starts (after blanks) at ``pos``, found by msgspec in one call.

    None when msgspec cannot say: the value is too deep for it, malformed, or runs to the end
    of the body (the scan then finds out which, and says so).
    """
    first = _next_non_blank(body, pos)
    if first is None:
        return None
    try:
        _raw_one.decode(view[first:])
        return None
    except RecursionError:
        return None
    except msgspec.DecodeError as exc:
        return _value_end(exc, first)


def _value_end(exc: msgspec.DecodeError, start: int) -> int | None:
    """Where the value decoded from ``start`` ended, read from msgspec's "trailing characters" error; None if it is another error."""
    ended = _TRAILING_AT.search(str(exc))
    # msgspec counts the offending byte itself: byte N is the one at index N - 1.
    return None if ended is None else start + int(ended.group(1)) - 1


def _skip_string(body: bytes, pos: int, index: int) -> int:
    """The index just past the closing quote of the string whose contents start at ``pos``."""
    size = len(body)
    while True:
        end = min(pos + _SCAN_STEP, size)
        stop = _STRING_BODY.match(body, pos, end).end()  # type: ignore[union-attr]
        if stop < end and body[stop] == _QUOTE:
            return stop + 1
        if end >= size:
            raise _not_an_array(f"element {index}: a string is not closed: the body ends at byte {size}")
        pos = stop  # the window ended (maybe between a backslash and the byte it escapes): go on from there


def _add_element(items: list[bytes], raw: bytes, max_events: int | None) -> None:
    """Append one element (blanks stripped) after checking it alone; 400 when it is missing or not JSON.

    An element msgspec cannot read only because of its text (a lone surrogate ``"\\ud800"``,
    invalid UTF-8 inside a string) is still a JSON value, so it is an item the validator rejects
    alone, as an NDJSON line would be. Anything else msgspec refuses (``1 2``, ``{"a":b"}``) means
    the split itself cannot be trusted (an unbalanced quote moves what the scan reads as a string):
    the whole body is a 400.
    """
    element = raw.strip(_WHITESPACE)
    index = len(items)
    if not element:
        raise _not_an_array(f"element {index} is missing (a comma with nothing before it, or before ']')")
    try:
        _raw_one.decode(element)
    except msgspec.DecodeError as exc:
        if not _is_json_text(element):
            raise _not_an_array(f"element {index}: {exc}") from None
    except RecursionError:
        pass  # too deep to check: one item, which the validator rejects as too_deep
    items.append(element)
    if max_events is not None and len(items) > max_events:
        raise _too_many(f"more than {max_events}", max_events)


def _is_json_text(element: bytes) -> bool:
    """Whether ``element`` is one JSON value once its bytes are read leniently (stray surrogates and
    bytes that are not UTF-8 kept as they are): the grammar holds, only the text is bad."""
    try:
        json.loads(element.decode("utf-8", "surrogateescape"))
    except RecursionError:
        return True  # as deep as that, it is one value the validator rejects as too_deep
    except ValueError:
        return False
    return True


def _next_non_blank(body: bytes, pos: int) -> int | None:
    """The index of the first non-blank byte at or after ``pos`` (searched a bounded step at a time), or None."""
    size = len(body)
    while pos < size:
        end = min(pos + _SCAN_STEP, size)
        found = _NOT_BLANK.search(body, pos, end)
        if found is not None:
            return found.start()
        pos = end
    return None


def _count_array_items(body: bytes, limit: int) -> int | None:
    """The top-level elements of the JSON array in ``body``, counting no further than ``limit + 1``.

    One msgspec call per element (it skips a nested value without building it), so the GIL
    is released between elements and the work stops at ``limit + 1`` whatever the body holds.
    None when the array is malformed before that point: the full decode then says why.
    RecursionError (an element too deep for msgspec) goes to the caller, which scans instead.
    """
    view = memoryview(body)
    pos = _BLANKS.match(body, body.index(b"[") + 1).end()
    if body[pos : pos + 1] == b"]":
        return 0
    count = 0
    while count <= limit:
        try:
            _raw_one.decode(view[pos:])
            return None  # the element runs to the end of the body: the array is not closed
        except msgspec.DecodeError as exc:
            ended = _value_end(exc, pos)
            if ended is None:
                return None  # the element itself is malformed
            end = _BLANKS.match(body, ended).end()
        count += 1
        separator = body[end : end + 1]
        if separator == b"]":
            return count
        if separator != b",":
            return None
        pos = _BLANKS.match(body, end + 1).end()
    return count


def split_ndjson(body: bytes, max_events: int | None = None) -> list[bytes]:
    """Items of an NDJSON body: every non-blank line, stripped; its index is its place among them.

    With ``max_events``, stops (413) at the first item past it. Blank runs are skipped a
    bounded step at a time, so neither memory nor one C call grows with the blank lines.
    """
    items: list[bytes] = []
    pos, size = 0, len(body)
    while pos < size:
        found = _NOT_BLANK.search(body, pos, min(pos + _SCAN_STEP, size))
        if found is None:
            pos = min(pos + _SCAN_STEP, size)
            continue
        start = found.start()
        end = body.find(b"\n", start)
        end = size if end < 0 else end
        items.append(body[start:end].rstrip(_WHITESPACE))
        if max_events is not None and len(items) > max_events:
            raise _too_many(f"more than {max_events}", max_events)
        pos = end + 1
    return items


def _too_many(count: str, max_events: int) -> BodyError:
    return BodyError(
        413,
        f"{count} events in one request; server.max_events_per_request is {max_events}: split the batch into smaller requests",
    )


def split_body(raw: bytes, content_type: str | None, content_encoding: str | None, limits: BodyLimits) -> list[bytes]:
    """The items of one request body; raises :class:`BodyError` with the status to answer."""
    ndjson, gzipped = check_headers(content_type, content_encoding)
    if gzipped:
        body = gunzip_capped(raw, limits.max_body_bytes)
    elif len(raw) > limits.max_body_bytes:
        raise _too_large(limits.max_body_bytes)
    else:
        body = raw
    items = split_ndjson(body, limits.max_events) if ndjson else split_json(body, limits.max_events)
    if not items:
        raise BodyError(400, "the body holds no events; send at least one event object")
    if len(items) > limits.max_events:
        raise _too_many(str(len(items)), limits.max_events)
    return items
