"""A sink that reads only the keys (archive_line + reads_event_keys): the stored bytes sent, the keys decoded alone, letters whole."""

from __future__ import annotations

from typing import Any

import msgspec
from delivery_rows import NOW, UNDECODABLE, KeyedAdapter, row

from adapters.contract import SinkContext
from shippers.buffer.records import DeadItem, StoredRow
from shippers.catalog import builtin_catalog
from shippers.config import PiiConfig
from shippers.delivery.cut import Limits, cut
from shippers.delivery.mapping import RowMapper
from shippers.event import Event, EventKeys, decode_event
from shippers.pii import SinkPii


class KeysAdapter(KeyedAdapter):
    """The keyed test adapter as an archive-line sink that reads only the keys (as S3 NDJSON)."""

    archive_line = True
    reads_event_keys = True

    def map(self, event: Any) -> Any:
        return event


WIDE = Limits(max_events=100, max_bytes=1 << 20)


def keys_mapper(pii: SinkPii | None = None) -> RowMapper:
    return RowMapper(KeysAdapter(SinkContext("keys", builtin_catalog(), lambda: NOW), None), pii)


def test_a_keys_only_sink_sends_the_stored_bytes_and_holds_only_the_keys() -> None:
    """Each item is the row's stored bytes, and what the batch holds of the event is its EventKeys, not the whole event."""
    rows = [row(1), row(2, "t-2")]
    made = cut(rows, keys_mapper(), WIDE, NOW)
    items = [m for b in made.batches for m in b.items]
    assert [m.item for m in items] == [r.body for r in rows]
    assert all(type(m.event) is EventKeys and m.event is m.stored for m in items)
    assert [(b.partition, b.key) for b in made.batches] == [("t-1", "t-1/1-1"), ("t-2", "t-2/2-2")]


def test_the_keys_agree_with_the_whole_event() -> None:
    """The keys decoded alone carry the same id, type, time and tenant as the whole event."""
    stored = row(7, pad=50)
    keys = keys_mapper().decode(stored)
    whole = decode_event(stored.body)
    assert isinstance(keys, EventKeys)
    assert (keys.id, keys.type, keys.time, keys.tenantId, keys.timestamp) == (whole.id, whole.type, whole.time, whole.tenantId, whole.timestamp)


def test_a_body_without_the_events_required_fields_is_undecodable_for_a_keys_only_sink_too() -> None:
    """Bytes that are no event (not JSON, or JSON without Event's required fields) are undecodable dead letters here as for any sink."""
    not_an_event = msgspec.json.encode({"id": "e1", "type": "login.completed", "time": "2026-11-25T19:34:33.123Z"})
    made = cut([row(1, body=UNDECODABLE), row(2, body=not_an_event)], keys_mapper(), WIDE, NOW)
    assert made.batches == []
    assert [(d.seq, d.code, d.body) for d in made.dead] == [(1, "undecodable", UNDECODABLE), (2, "undecodable", not_an_event)]


def test_a_dead_letter_of_a_keys_only_sink_holds_the_whole_event_as_stored() -> None:
    """A letter (a rejected item) of a keys-only sink holds the stored bytes and the tag a whole-event sink would give them."""
    stored = row(3)
    [batch] = cut([stored], keys_mapper(), WIDE, NOW).batches
    letter = keys_mapper().dead_letter(stored, "rejected", "no", batch.items[0])
    whole = RowMapper(KeyedAdapter(SinkContext("keyed", builtin_catalog(), lambda: NOW), None))
    expected = whole.dead_letter(stored, "rejected", "no", stored=decode_event(stored.body))
    assert isinstance(letter, DeadItem)
    assert (letter.body, letter.pii, letter.reason) == (stored.body, expected.pii, expected.reason) and letter.body == stored.body


def test_a_replayed_row_and_a_sink_with_a_policy_decode_the_whole_event() -> None:
    """A row carrying its PII tag (a DLQ replay) is decoded whole for the view; a sink with a policy never decodes keys alone."""
    replayed = StoredRow(4, NOW, "login.completed", "success", "t-1", "keys", row(4).body, "email=keep;ip=keep;userAgent=keep")
    assert type(keys_mapper().decode(replayed)) is Event
    masked = keys_mapper(SinkPii(PiiConfig(email="mask")))
    assert not masked.keys_only and type(masked.decode(row(5))) is Event


def test_a_body_whose_other_fields_are_malformed_is_sent_as_stored_by_a_keys_only_sink_and_undecodable_elsewhere() -> None:
    """A stored body with every key right but a field outside the keys of the wrong type (a foreign writer, a future
    format) goes out as stored from a keys-only sink, while a whole-event sink dead-letters it as undecodable (the
    known limit in docs/RELIABILITY.md: the keys decode does not look at the fields it does not keep)."""
    good = msgspec.json.decode(row(6).body)
    malformed = msgspec.json.encode({**good, "email": 5, "details": "not an object"})
    stored = row(6, body=malformed)
    keys_cut = cut([stored], keys_mapper(), WIDE, NOW)
    assert [m.item for b in keys_cut.batches for m in b.items] == [malformed] and keys_cut.dead == []
    whole = RowMapper(KeyedAdapter(SinkContext("keyed", builtin_catalog(), lambda: NOW), None))
    whole_cut = cut([stored], whole, WIDE, NOW)
    assert whole_cut.batches == [] and [(d.seq, d.code, d.body) for d in whole_cut.dead] == [(6, "undecodable", malformed)]
    letter = keys_mapper().dead_letter(stored, "rejected", "no", keys_cut.batches[0].items[0])
    assert (letter.code, letter.pii) == ("undecodable", "undecodable")  # rejected later: withheld like any undecodable row
