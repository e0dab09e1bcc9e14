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


class _FeedSpy:
    """A zlib decompressobj that records how many input bytes each decompress() call was handed."""

    fed: list[int] = []

    def __init__(self, wbits: int) -> None:
        self._inner = _REAL_DECOMPRESSOBJ(wbits)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        _FeedSpy.fed.append(len(data))
        return self._inner.decompress(data, max_length)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


_REAL_DECOMPRESSOBJ = zlib.decompressobj


def test_many_gzip_members_are_decompressed_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each gzip member is handed only the input near it, so the bytes zlib is handed stay proportional to the body (not members x body)."""
    from shippers.sidecar.body import MAX_GZIP_MEMBERS

    body = gzip.compress(b'{"type": "login.completed"}\n') * (MAX_GZIP_MEMBERS - 1)
    _FeedSpy.fed = []
    monkeypatch.setattr(zlib, "decompressobj", _FeedSpy)
    out = gunzip_capped(body, 10 * 1024 * 1024)
    assert out == b'{"type": "login.completed"}\n' * (MAX_GZIP_MEMBERS - 1)
    assert sum(_FeedSpy.fed) <= 4 * len(body), (sum(_FeedSpy.fed), len(body))


def test_more_gzip_members_than_the_cap_is_413() -> None:
    """A body of more gzip members than MAX_GZIP_MEMBERS (e.g. a flood of empty ones) is a 413 naming the cap."""
    from shippers.sidecar.body import MAX_GZIP_MEMBERS

    with pytest.raises(BodyError) as caught:
        gunzip_capped(gzip.compress(b"") * (MAX_GZIP_MEMBERS + 1), 10 * 1024 * 1024)
    assert caught.value.status == 413 and f"{MAX_GZIP_MEMBERS} gzip members" in caught.value.message


def test_zero_padding_after_the_last_member_is_ignored() -> None:
    """Zero bytes after the last member (some writers pad) end the body; other trailing bytes are a 400."""
    member = gzip.compress(b'{"a":1}')
    assert gunzip_capped(member + b"\x00" * 100, 1024) == b'{"a":1}'
    with pytest.raises(BodyError) as caught:
        gunzip_capped(member + b"\x00junk", 1024)
    assert caught.value.status == 400


def test_huge_array_of_tiny_items_is_413_without_materialising_them() -> None:
    """An array of far more tiny items than max_events (a million zeros) is a 413 naming the limit, like a short one."""
    limits = BodyLimits(max_body_bytes=4 * 1024 * 1024, max_events=50_000)
    with pytest.raises(BodyError, match="max_events_per_request is 50000") as caught:
        split_body(b"[" + b",".join([b"0"] * 1_000_000) + b"]", "application/json", None, limits)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'[{"a": [1, 2, 3]}, {"b": {"c": [4, 5]}}, 7, "x,y"]', [b'{"a": [1, 2, 3]}', b'{"b": {"c": [4, 5]}}', b"7", b'"x,y"']),
        (b" [ ] ", []),
    ],
)
def test_arrays_with_many_commas_split_the_same(monkeypatch: pytest.MonkeyPatch, raw: bytes, expected: list[bytes]) -> None:
    """The careful path taken for comma-dense arrays splits exactly like the direct one (nested commas, strings)."""
    from shippers.sidecar import body as body_module

    monkeypatch.setattr(body_module, "DIRECT_DECODE_MAX_COMMAS", 0)
    assert body_module.split_json(raw, max_events=100) == expected


@pytest.mark.parametrize("raw", [b"[1, 2", b"[1 2]", b"[1,]", b"[,1]"])
def test_malformed_comma_dense_arrays_are_400(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> None:
    """On the careful path a malformed array is still the 400 of the JSON decoder."""
    from shippers.sidecar import body as body_module

    monkeypatch.setattr(body_module, "DIRECT_DECODE_MAX_COMMAS", 0)
    with pytest.raises(BodyError) as caught:
        body_module.split_json(raw, max_events=100)
    assert caught.value.status == 400 and "not a valid JSON array" in caught.value.message


def test_ndjson_lines_keep_inner_spaces_and_skip_long_blank_runs() -> None:
    """NDJSON items are the lines stripped of blanks at both ends; long runs of blank lines and spaces cost no item."""
    from shippers.sidecar.body import split_ndjson

    body = b"\r\n \t" + b"\n" * 1_000_000 + b' {"a": 1}  \r\n' + b" " * 1_000_000 + b'\nx y\n\n'
    assert split_ndjson(body) == [b'{"a": 1}', b"x y"]


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        (b'[{"a": [1, 2, 3]}, {"b": {"c": [4, 5]}}, 7, "x,y"]', 100, 4),
        (b"[ 1 , 2 ,3]", 100, 3),
        (b"[]", 100, 0),
        (b"[" + b",".join([b"{}"] * 50) + b"]", 10, 11),
        (b"[1, 2", 100, None),
        (b"[1 2]", 100, None),
    ],
)
def test_array_items_are_counted_one_by_one_up_to_the_limit(raw: bytes, limit: int, expected: int | None) -> None:
    """The careful count sees top-level elements only (not nested commas), stops at limit + 1, and says None when malformed."""
    from shippers.sidecar.body import _count_array_items

    assert _count_array_items(raw, limit) == expected
