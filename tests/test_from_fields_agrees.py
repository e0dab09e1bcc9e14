"""emit()'s validation (``from_fields``) and the wire decoder (``decode``) give the same answer for every JSON-able dict."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shippers.catalog import builtin_catalog
from shippers.errors import ValidationError
from shippers.event import Event, EventValidator

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC).timestamp()
VALIDATOR = EventValidator(builtin_catalog(), clock=lambda: NOW)
CATALOG = builtin_catalog()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _good_or_bad(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Half the time a value the field's check passes (so later checks are reached), else one it refuses."""
    return st.sampled_from(good) | st.sampled_from(bad)


plausible = {
    "type": _good_or_bad(list(CATALOG.names), ["login.complete", "no such type"]),
    "id": _good_or_bad(["e-1", "0192f5e0-7c1d-7000-8000-000000000001"], ["x" * 129, "bad\nid"]),
    "time": _good_or_bad(
        ["2026-11-25T18:59:59.123Z", "2026-11-25T20:34:33.123+01:00", "2026-11-25 18:00:00Z", "2026-11-25T18:00:60Z",
         "2026-11-25T18:59:60.000Z", "0001-01-01T00:30:00+00:00", "2026-11-25t18:00:00.5z"],
        ["2026-11-25T18:60:00.000Z", "2026-11-25T18:00:00", "2030-01-01T00:00:00.000Z", "2026-13-25T18:00:00.000Z",
         "0001-01-01T00:30:00+01:00", "not a time", "2026-11-25"],
    ),
    "email": _good_or_bad(["ana@example.com"], ["ana@example", "a b@example.com"]),
    "ip": _good_or_bad(["203.0.113.7", "2001:db8::1", "::ffff:203.0.113.7", "2001:0db8:0000::0001", "::"],
                       ["1.2.3", "1.2.3.4:80", "fe80::1%eth0", "203.0.113.7\x00", "2001:db8::1::2", "1.2.3.4.5"]),
    "reason": _good_or_bad(sorted({r for kind in CATALOG for r in kind.reasons}), ["nope"]),
    "details": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
}
field_names = st.sampled_from([*plausible, "tenantId", "userId", "userAgent", "traceId", "other"])


@st.composite
def fields_dicts(draw: st.DrawFn) -> dict[str, object]:
    """A dict of event fields: plausible values mostly, any JSON value sometimes, unknown names now and then."""
    fields: dict[str, object] = {"type": draw(plausible["type"])} if draw(st.integers(0, 4)) else {}
    for name in draw(st.lists(field_names, max_size=8, unique=True)):
        choice = plausible.get(name, st.text(max_size=12))
        kind = CATALOG.get(fields["type"]) if isinstance(fields.get("type"), str) else None
        if name == "reason" and kind is not None and kind.reasons and draw(st.booleans()):
            choice = st.sampled_from(sorted(kind.reasons))  # a reason of its type: the checks after it are reached
        fields[name] = draw(json_values) if draw(st.integers(0, 4)) == 0 else draw(choice)
    return fields


def _outcome(call: object) -> tuple[str, object]:
    """("event", the Event with any assigned id blanked) or ("error", (reason, message, field))."""
    try:
        event = call()  # type: ignore[operator]
    except ValidationError as exc:
        return "error", (exc.reason, exc.message, exc.field)
    assert isinstance(event, Event)
    return "event", event


@settings(deadline=None, max_examples=600)
@given(fields_dicts())
def test_from_fields_and_decode_agree(fields: dict[str, object]) -> None:
    """For any JSON-able dict, from_fields(d) gives the same Event or the same (reason, message, field) as decode(json(d))."""
    if fields.get("id") is None:
        fields["id"] = "fixed-id"  # an assigned id is a fresh UUIDv7 each call: fix it so the events compare
    by_fields = _outcome(lambda: VALIDATOR.from_fields(dict(fields)))
    by_decode = _outcome(lambda: VALIDATOR.decode(msgspec.json.encode(fields)))
    assert by_fields == by_decode


def test_the_generator_reaches_both_outcomes() -> None:
    """The agreement test is not vacuous: its generator yields valid events and several kinds of rejection."""
    seen: set[str] = set()

    @settings(deadline=None, max_examples=300, database=None)
    @given(fields_dicts())
    def collect(fields: dict[str, object]) -> None:
        kind, value = _outcome(lambda: VALIDATOR.from_fields(fields))
        seen.add("event" if kind == "event" else str(value[0]))  # type: ignore[index]

    collect()
    assert "event" in seen
    assert len(seen) >= 6, seen


TYPE = {"type": "login.completed"}


@pytest.mark.parametrize(("fields", "reason"), [
    ({"userId": "u"}, "missing_field"),
    ({**TYPE, "user_id": "u"}, "unknown_field"),
    ({**TYPE, "userId": 7}, "wrong_type"),
    ({**TYPE, "details": [1]}, "wrong_type"),
    ({**TYPE, "userId": ""}, "empty_field"),
    ({**TYPE, "id": "x" * 129}, "too_long"),
    ({**TYPE, "details": {"pad": "x" * 17000}}, "too_large"),
    ({**TYPE, "details": {"a": [[[[[[[[1]]]]]]]]}}, "too_deep"),
    ({**TYPE, "details": {"a": list(range(1001))}}, "too_many_values"),
    ({**TYPE, "details": {"o": object()}}, "not_serialisable"),
    ({"type": "login.complete"}, "unknown_type"),
    ({**TYPE, "reason": "nope"}, "unknown_reason"),
    ({**TYPE, "time": "2026-11-25T18:00:00"}, "invalid_time"),
    ({**TYPE, "time": "2030-01-01T00:00:00.000Z"}, "future_time"),
    ({**TYPE, "id": "bad\nid"}, "invalid_id"),
    ({**TYPE, "email": "ana@example"}, "invalid_email"),
    ({**TYPE, "ip": "1.2.3.4:80"}, "invalid_ip"),
    ({**TYPE, "ip": "2001:db8::1::2"}, "invalid_ip"),
    ({**TYPE, "id": "e", "time": "2026-11-25T18:59:60.5+01:00", "ip": "2001:0db8::0001", "details": {"k": [1.5, None]}}, None),
])
def test_each_check_gives_the_same_answer_both_ways(fields: dict[str, object], reason: str | None) -> None:
    """Every check, and a valid event, answers the same through from_fields and decode (same reason, message, field)."""
    by_fields = _outcome(lambda: VALIDATOR.from_fields(dict(fields)))
    expected = "event" if reason is None else reason
    assert (by_fields[0] if by_fields[0] == "event" else str(by_fields[1][0])) == expected  # type: ignore[index]
    if reason != "not_serialisable":  # msgspec cannot encode an object(): there is no document to decode
        assert by_fields == _outcome(lambda: VALIDATOR.decode(msgspec.json.encode(fields)))
