"""The event decoder: valid events are normalised and enriched once; every bad one fails with a field and a fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shippers.catalog import builtin_catalog
from shippers.errors import ValidationError
from shippers.event import MAX_DETAILS_BYTES, EventValidator, decode_event, encode_event

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC).timestamp()
VALIDATOR = EventValidator(builtin_catalog(), clock=lambda: NOW)


def decode(doc: dict) -> object:
    return VALIDATOR.decode(json.dumps(doc).encode())


def test_full_event_is_normalised_and_enriched() -> None:
    """Time is converted to UTC, the IP normalised, and action/outcome/description come from the catalog."""
    event = decode({
        "id": "e-1", "type": "magic_link.failed", "time": "2026-11-25T20:34:33.123+01:00", "tenantId": "t-42",
        "userId": "u-7", "email": "ana@example.com", "ip": "2001:DB8::1", "userAgent": "Mozilla/5.0",
        "reason": "expired", "traceId": "4bf92f35", "details": {"k": "v"},
    })
    assert event.time == "2026-11-25T19:34:33.123Z"
    assert event.ip == "2001:db8::1"
    assert (event.action, event.outcome, event.description) == ("Magic link failed", "failure", "Link used for login is expired")
    assert event.schemaVersion == 1


def test_defaults_id_and_time() -> None:
    """A bare event gets a UUIDv7 id and the receipt time."""
    event = decode({"type": "login.completed"})
    assert event.id[14] == "7" and len(event.id) == 36
    assert event.time == "2026-11-25T19:00:00.000Z"


def test_archive_line_round_trips_in_stable_key_order() -> None:
    """The stored/archived line decodes back to the same event, keys in the wire order then the enrichment."""
    event = decode({"type": "user.locked", "reason": "locked", "userId": "u", "id": "x", "time": "2026-11-25T18:00:00Z"})
    line = encode_event(event)
    assert decode_event(line) == event
    assert list(json.loads(line)) == ["id", "type", "time", "userId", "reason", "action", "outcome", "description", "schemaVersion"]


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({}, "type", "required"),
        ({"type": "login.complete"}, "type", "did you mean 'login.completed'?"),
        ({"type": "nothing.like.it.at.all"}, "type", "authlog catalog"),
        ({"type": "user.locked", "reason": "bored"}, "reason", "'limit_passed', 'locked'"),
        ({"type": "login.completed", "reason": "x"}, "reason", "has no reasons"),
        ({"type": "login.completed", "colour": "red"}, "colour", "unknown field"),
        ({"type": "login.completed", "userId": 7}, "userId", "must be a string"),
        ({"type": "login.completed", "id": "x" * 129}, "id", "limit of 128"),
        ({"type": "login.completed", "id": ""}, "id", "empty"),
        ({"type": "login.completed", "time": "yesterday"}, "time", "RFC 3339"),
        ({"type": "login.completed", "time": "2026-11-25T10:00:00"}, "time", "no UTC offset"),
        ({"type": "login.completed", "time": "2026-11-27T10:00:00Z"}, "time", "24 h in the future"),
        ({"type": "login.completed", "ip": "999.1.1.1"}, "ip", "IPv4 or IPv6"),
        ({"type": "login.completed", "email": "not-an-email"}, "email", "shaped like an email"),
        ({"type": "login.completed", "email": "a" * 250 + "@b.co"}, "email", "limit of 254"),
        ({"type": "login.completed", "userAgent": "u" * 2049}, "userAgent", "limit of 2048"),
        ({"type": "login.completed", "tenantId": "t" * 1025}, "tenantId", "limit of 1024"),
        ({"type": "login.completed", "details": [1]}, "details", "JSON object"),
        ({"type": "login.completed", "details": {"k": "v" * MAX_DETAILS_BYTES}}, "details", "limit is"),
        ({"type": "login.completed", "details": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}, "details", "8 levels"),
    ],
)
def test_each_invalid_field_names_itself_and_the_fix(doc: dict, field: str, words: str) -> None:
    """Each rule fails with the field's name and a message a producer can act on."""
    with pytest.raises(ValidationError) as caught:
        decode(doc)
    assert caught.value.field == field
    assert words in caught.value.message


def test_non_object_document_is_rejected() -> None:
    """An array or a scalar is not an event."""
    with pytest.raises(ValidationError, match="JSON object"):
        VALIDATOR.decode(b"[1, 2]")


def test_from_fields_uses_the_same_rules() -> None:
    """emit()-style keyword fields go through exactly the same validation."""
    assert VALIDATOR.from_fields({"type": "signup.completed", "userId": "u"}).outcome == "success"
    with pytest.raises(ValidationError, match="unknown field 'user_id'"):
        VALIDATOR.from_fields({"type": "signup.completed", "user_id": "u"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
field_names = st.sampled_from(["type", "id", "time", "tenantId", "userId", "email", "ip", "userAgent", "reason", "traceId", "details", "other"])
type_names = st.sampled_from(builtin_catalog().names) | st.text(max_size=30)
events_ish = st.dictionaries(field_names, json_values | type_names, max_size=11)


@settings(deadline=None, max_examples=300)
@given(st.one_of(json_values, events_ish))
def test_decoder_only_ever_raises_validation_error(document: object) -> None:
    """On arbitrary JSON the decoder returns an Event or raises ValidationError, never anything else."""
    raw = msgspec.json.encode(document)
    try:
        event = VALIDATOR.decode(raw)
    except ValidationError as exc:
        assert str(exc)
    else:
        assert event.type in builtin_catalog()


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=200))
def test_decoder_survives_arbitrary_bytes(raw: bytes) -> None:
    """Arbitrary bytes (not even JSON) are a ValidationError, never a crash."""
    try:
        VALIDATOR.decode(raw)
    except ValidationError:
        pass
