"""The object body: gzip NDJSON, one line per item, the same bytes every time."""

from __future__ import annotations

import gzip

from s3_testkit import every_type_and_reason, full_event, make_adapter

from adapters.s3.encoder import CONTENT_ENCODING, CONTENT_TYPE, encode_body, ndjson
from shippers.event import decode_event, encode_event


def test_body_is_gzip_ndjson_of_the_items() -> None:
    """Gunzipped, the body is each item followed by a newline, in order."""
    items = [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    body = encode_body(items)
    assert body[:2] == b"\x1f\x8b"
    assert gzip.decompress(body) == b'{"a":1}\n{"b":2}\n{"c":3}\n' == ndjson(items)


def test_body_bytes_are_deterministic() -> None:
    """No timestamp in the gzip header: a resend carries byte-identical content."""
    items = [encode_event(full_event("login.completed"))] * 50
    assert encode_body(items) == encode_body(list(items))
    assert gzip.decompress(encode_body(items)).count(b"\n") == 50


def test_archive_lines_round_trip_for_every_type() -> None:
    """Each catalog type's archive line survives the object body unchanged (the file sink's line)."""
    adapter = make_adapter()
    events = [full_event(t, r) for t, r in every_type_and_reason()]
    body = encode_body([adapter.encode_item(adapter.map(e)) for e in events])
    lines = gzip.decompress(body).splitlines()
    assert [decode_event(line) for line in lines] == events


def test_content_headers() -> None:
    """SIEM S3 inputs read these to decompress and split lines."""
    assert (CONTENT_TYPE, CONTENT_ENCODING) == ("application/x-ndjson", "gzip")


def test_batch_tag_identifies_a_batch_by_its_ids() -> None:
    """Same ids in the same order give the same tag; any other batch gets another one."""
    from adapters.s3.encoder import batch_tag

    tag = batch_tag(["a", "b", "c"])
    assert tag == batch_tag(iter(["a", "b", "c"])) and len(tag) == 32
    assert len({tag, batch_tag(["a", "b"]), batch_tag(["c", "b", "a"]), batch_tag(["ab", "c"]), batch_tag(["a", "bc"])}) == 5
