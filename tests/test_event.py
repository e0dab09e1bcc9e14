"""The event decoder: valid events are normalised and enriched once; every bad one fails with a field and a fix."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shippers.catalog import builtin_catalog
from shippers.errors import Rejection, ValidationError
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
    ("doc", "field", "words", "reason"),
    [
        ({}, "type", "required", Rejection.MISSING_FIELD),
        ({"type": "login.complete"}, "type", "did you mean 'login.completed'?", Rejection.UNKNOWN_TYPE),
        ({"type": "nothing.like.it.at.all"}, "type", "authlog catalog", Rejection.UNKNOWN_TYPE),
        ({"type": "user.locked", "reason": "bored"}, "reason", "'limit_passed', 'locked'", Rejection.UNKNOWN_REASON),
        ({"type": "login.completed", "reason": "x"}, "reason", "has no reasons", Rejection.UNKNOWN_REASON),
        ({"type": "login.completed", "colour": "red"}, "colour", "unknown field", Rejection.UNKNOWN_FIELD),
        ({"type": "login.completed", "userId": 7}, "userId", "must be a string", Rejection.WRONG_TYPE),
        ({"type": "login.completed", "id": "x" * 129}, "id", "limit of 128", Rejection.TOO_LONG),
        ({"type": "login.completed", "id": ""}, "id", "empty", Rejection.EMPTY_FIELD),
        ({"type": "login.completed", "id": "a\nb"}, "id", "control characters", Rejection.INVALID_ID),
        ({"type": "login.completed", "time": "yesterday"}, "time", "RFC 3339", Rejection.INVALID_TIME),
        ({"type": "login.completed", "time": "2026-11-25T10:00:00"}, "time", "no UTC offset", Rejection.INVALID_TIME),
        ({"type": "login.completed", "time": "2026-11-27T10:00:00Z"}, "time", "24 h in the future", Rejection.FUTURE_TIME),
        ({"type": "login.completed", "time": "0001-01-01T00:59:00+01:00"}, "time", "years 0001-9999", Rejection.INVALID_TIME),
        ({"type": "login.completed", "time": "0000-01-01T00:00:00Z"}, "time", "year 0 is out of range", Rejection.INVALID_TIME),
        ({"type": "login.completed", "ip": "999.1.1.1"}, "ip", "IPv4 or IPv6", Rejection.INVALID_IP),
        ({"type": "login.completed", "email": "not-an-email"}, "email", "shaped like an email", Rejection.INVALID_EMAIL),
        ({"type": "login.completed", "email": "a" * 250 + "@b.co"}, "email", "limit of 254", Rejection.TOO_LONG),
        ({"type": "login.completed", "userAgent": "u" * 2049}, "userAgent", "limit of 2048", Rejection.TOO_LONG),
        ({"type": "login.completed", "tenantId": "t" * 1025}, "tenantId", "limit of 1024", Rejection.TOO_LONG),
        ({"type": "login.completed", "details": [1]}, "details", "JSON object", Rejection.WRONG_TYPE),
        ({"type": "login.completed", "details": {"k": "v" * MAX_DETAILS_BYTES}}, "details", "limit is", Rejection.TOO_LARGE),
        ({"type": "login.completed", "details": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}, "details", "8 levels", Rejection.TOO_DEEP),
    ],
)
def test_each_invalid_field_names_itself_and_the_fix(doc: dict, field: str, words: str, reason: Rejection) -> None:
    """Each rule fails with the field's name, a message a producer can act on, and its reason from the closed set."""
    with pytest.raises(ValidationError) as caught:
        decode(doc)
    assert caught.value.field == field
    assert words in caught.value.message
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b'{"type": "login.completed", "details": {"n": 1e999999}}', "details", Rejection.NUMBER_OUT_OF_RANGE),
        (b'{"type": "login.completed", "userId": 1e999999}', "userId", Rejection.WRONG_TYPE),
        (b'{"type": "login.completed", "details": ' + b"[" * 5000 + b"]" * 5000 + b"}", "", Rejection.TOO_DEEP),
        (b'{"type": "login.completed", "colour": ' + b"[" * 5000 + b"]" * 5000 + b"}", "colour", Rejection.UNKNOWN_FIELD),
        (b'{"type": "login.completed", "details": {"n": NaN}}', "", Rejection.INVALID_JSON),
        (b'{"type": "login.completed", "userId": "\\ud800"}', "", Rejection.INVALID_JSON),
        (b"[1, 2]", "", Rejection.NOT_AN_OBJECT),
    ],
    ids=["1e999999 in details", "1e999999 in userId", "details 5000 deep", "unknown field 5000 deep", "NaN", "lone surrogate", "array"],
)
def test_raw_json_a_producer_can_send_is_a_rejection_with_its_reason(raw: bytes, field: str, reason: Rejection) -> None:
    """Out-of-range numbers, deep nesting, NaN literals and lone surrogates are ValidationErrors with a precise reason.

    (Nesting past Python's recursion limit stops msgspec before it knows the field: the field is ''.)
    """
    with pytest.raises(ValidationError) as caught:
        VALIDATOR.decode(raw)
    assert (caught.value.field, caught.value.reason) == (field, reason)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-06-30T23:59:60Z", "2026-06-30T23:59:59.999Z"),
        ("2026-07-01T01:59:60.5+02:00", "2026-06-30T23:59:59.999Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("0001-01-01T23:00:00+23:00", "0001-01-01T00:00:00.000Z"),
    ],
)
def test_leap_seconds_and_the_earliest_utc_time_are_kept(sent: str, stored: str) -> None:
    """A leap second (RFC 3339 allows second 60) is stored as the last millisecond of its minute; year 1 in UTC is valid."""
    assert decode({"type": "login.completed", "time": sent}).time == stored


def test_readme_lists_exactly_the_rejection_reasons() -> None:
    """The README's table of rejection reasons names every Rejection value and no other."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme.split("### Rejection reasons", 1)[1].split("\n#", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    assert sorted(listed) == sorted(r.value for r in Rejection)
    assert len(listed) == len(set(listed))


def test_non_object_document_is_rejected() -> None:
    """An array or a scalar is not an event."""
    with pytest.raises(ValidationError, match="JSON object"):
        VALIDATOR.decode(b"[1, 2]")


def test_from_fields_uses_the_same_rules() -> None:
    """emit()-style keyword fields go through exactly the same validation."""
    assert VALIDATOR.from_fields({"type": "signup.completed", "userId": "u"}).outcome == "success"
    with pytest.raises(ValidationError, match="unknown field 'user_id'"):
        VALIDATOR.from_fields({"type": "signup.completed", "user_id": "u"})


@pytest.mark.parametrize(
    "fields",
    [
        {"details": {"x": float("nan")}},
        {"details": {"a": [1.0, {"b": float("inf")}]}},
        {"details": {"t": (float("-inf"),)}},
        {"userId": float("nan")},
    ],
    ids=["NaN in details", "Infinity nested", "-Infinity in a tuple", "NaN as userId"],
)
def test_from_fields_refuses_nan_and_infinity(fields: dict) -> None:
    """NaN and Infinity in emit() fields are refused, not silently stored as null (msgspec would encode them as null)."""
    with pytest.raises(ValidationError) as caught:
        VALIDATOR.from_fields({"type": "login.completed", **fields})
    assert caught.value.reason is Rejection.NUMBER_OUT_OF_RANGE
    assert caught.value.field == next(iter(fields))
    assert "NaN" in caught.value.message


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
    """On arbitrary JSON the decoder returns an Event or a ValidationError with a specific reason (never the last-resort one)."""
    raw = msgspec.json.encode(document)
    try:
        event = VALIDATOR.decode(raw)
    except ValidationError as exc:
        assert str(exc)
        assert exc.reason is not Rejection.INVALID, "a foreseeable input fell through to the last-resort catch"
    else:
        assert event.type in builtin_catalog()


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=200))
def test_decoder_survives_arbitrary_bytes(raw: bytes) -> None:
    """Arbitrary bytes (not even JSON) are a ValidationError with a specific reason, never a crash."""
    try:
        VALIDATOR.decode(raw)
    except ValidationError as exc:
        assert exc.reason is not Rejection.INVALID, "a foreseeable input fell through to the last-resort catch"


@pytest.mark.parametrize(
    "details",
    ['{"a":[' + ",".join(["[]"] * 5400) + "]}", '{"a":[' + ",".join(["1"] * 1001) + "]}",
     "{" + ",".join(f'"k{i}":{{}}' for i in range(1001)) + "}"],
    ids=["16KiB-of-empty-lists", "1001-numbers", "1001-empty-objects"],
)
def test_details_with_more_values_than_the_cap_are_rejected(details: str) -> None:
    """Details holding more than MAX_DETAILS_VALUES values (containers count) are refused as too_many_values."""
    from shippers.event import MAX_DETAILS_VALUES

    with pytest.raises(ValidationError) as caught:
        EventValidator(builtin_catalog()).decode(('{"type":"login.completed","details":' + details + "}").encode())
    assert caught.value.reason == Rejection.TOO_MANY_VALUES and caught.value.field == "details"
    assert str(MAX_DETAILS_VALUES) in caught.value.message


def test_details_at_the_value_cap_are_accepted() -> None:
    """Exactly MAX_DETAILS_VALUES values (one list holding the rest) pass."""
    from shippers.event import MAX_DETAILS_VALUES

    details = '{"a":[' + ",".join(["1"] * (MAX_DETAILS_VALUES - 1)) + "]}"
    event = EventValidator(builtin_catalog()).decode(('{"type":"login.completed","details":' + details + "}").encode())
    assert len(event.details["a"]) == MAX_DETAILS_VALUES - 1  # type: ignore[index]


def test_validate_raw_keeps_no_details_objects_once_the_line_is_encoded(tmp_path: Path) -> None:
    """An accepted event's details live in its stored line only, so a request keeps no per-value Python objects."""
    from shippers.shipper import Shipper

    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"local": {"type": "file", "path": str(tmp_path / "o")}}})
    try:
        validated = shipper.validate_raw([b'{"type":"login.completed","details":{"a":[1,2,3]}}'])
        event, line = validated.accepted[0]
        assert event.details is None and decode_event(line).details == {"a": [1, 2, 3]}
    finally:
        shipper.close(1.0)
