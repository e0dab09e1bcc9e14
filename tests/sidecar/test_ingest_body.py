"""The pure body splitter: what becomes an item, and which status each malformed body earns."""

from __future__ import annotations

import gzip
import zlib

import pytest

from shippers.sidecar.body import BodyError, BodyLimits, gunzip_capped, split_body

LIMITS = BodyLimits(max_body_bytes=1024, max_events=5)


def _status(raw: bytes, content_type: str | None = "application/json", encoding: str | None = None) -> int:
    with pytest.raises(BodyError) as caught:
        split_body(raw, content_type, encoding, LIMITS)
    return caught.value.status


def test_one_object_is_one_item() -> None:
    """A single JSON object is one item, passed through byte for byte."""
    assert split_body(b' {"type": "x"} ', "application/json", None, LIMITS) == [b'{"type": "x"}']


def test_array_elements_are_items_in_order() -> None:
    """Each element of a JSON array becomes one item, including non-objects the validator will reject."""
    assert split_body(b'[{"a":1}, 2 ,"s"]', "application/json; charset=utf-8", None, LIMITS) == [b'{"a":1}', b"2", b'"s"']


def test_ndjson_index_counts_only_non_blank_lines() -> None:
    """NDJSON items are the non-blank lines (CRLF tolerated), so an index is the position among them."""
    body = b'\n{"a":1}\r\n   \nnot json\n\n{"b":2}'
    assert split_body(body, "application/x-ndjson", None, LIMITS) == [b'{"a":1}', b"not json", b'{"b":2}']


def test_missing_content_type_reads_json() -> None:
    """A body without Content-Type is read as JSON, as curl --data-binary sends it."""
    assert split_body(b'{"a":1}', None, None, LIMITS) == [b'{"a":1}']


@pytest.mark.parametrize("raw", [b'{"a":', b"[1, 2", b'{"a":1}{"b":2}', b""])
def test_unparsable_json_is_400(raw: bytes) -> None:
    """A JSON body that does not parse (or is empty) is a 400 for the whole request."""
    assert _status(raw) == 400


def test_concatenated_objects_hint_at_ndjson() -> None:
    """Two objects sent as application/json get a message pointing at arrays and NDJSON."""
    with pytest.raises(BodyError, match="x-ndjson"):
        split_body(b'{"a":1}\n{"b":2}', "application/json", None, LIMITS)


def test_blank_ndjson_and_empty_array_are_400() -> None:
    """A body with no events at all is a 400, not a silent 202."""
    assert _status(b"\n \n", "application/x-ndjson") == 400
    assert _status(b"[]") == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_other_content_types_are_415(content_type: str) -> None:
    """Only JSON and NDJSON media types are accepted."""
    assert _status(b'{"a":1}', content_type) == 415


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
def test_other_encodings_are_415(encoding: str) -> None:
    """Only identity and gzip content encodings are accepted."""
    assert _status(b'{"a":1}', "application/json", encoding) == 415


def test_gzip_body_is_decompressed() -> None:
    """A gzip body (x-gzip spelling too) is decompressed before splitting."""
    body = gzip.compress(b'{"a":1}\n{"b":2}\n')
    assert split_body(body, "application/x-ndjson", "x-gzip", LIMITS) == [b'{"a":1}', b'{"b":2}']


def test_concatenated_gzip_members_are_one_body() -> None:
    """Several gzip members in one body decompress to their concatenation (RFC 1952 allows it)."""
    body = gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"b":2}\n')
    assert split_body(body, "application/x-ndjson", "gzip", LIMITS) == [b'{"a":1}', b'{"b":2}']


@pytest.mark.parametrize("raw", [b"not gzip at all", gzip.compress(b'{"a":1}')[:-6], b"", zlib.compress(b"{}")])
def test_bad_gzip_is_400(raw: bytes) -> None:
    """Corrupt, truncated, empty or zlib-not-gzip bodies labelled gzip are a 400."""
    assert _status(raw, "application/json", "gzip") == 400


def test_gzip_bomb_stops_at_the_cap() -> None:
    """A small gzip body that inflates past max_body_bytes is a 413, and decompression stops near the cap."""
    bomb = gzip.compress(b"0" * (50 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    with pytest.raises(BodyError) as caught:
        gunzip_capped(bomb, 1024)
    assert caught.value.status == 413 and "decompressed" in caught.value.message


def test_body_over_cap_is_413() -> None:
    """An uncompressed body over max_body_bytes is a 413."""
    assert _status(b"[" + b"1," * 600 + b"1]") == 413


def test_too_many_items_is_413_with_the_limit() -> None:
    """More items than max_events_per_request is a 413 naming the limit."""
    with pytest.raises(BodyError, match="max_events_per_request is 5") as caught:
        split_body(b"\n".join([b"{}"] * 6), "application/x-ndjson", None, LIMITS)
    assert caught.value.status == 413
