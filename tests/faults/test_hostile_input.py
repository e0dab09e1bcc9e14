"""Hostile input: every item a producer can send costs at most itself, never a 5xx or the good events beside it.

The fault family of issue 10, findings 4 and 5: extreme times, deep nesting, out-of-range
numbers, NaN literals, lone surrogates, NUL bytes and overlong strings are each a per-item
rejection with a reason from a closed set; ``emit()`` raises only ``ValidationError``; and no
producer text ever becomes a Prometheus label.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shippers import event as event_module
from shippers.errors import Rejection, ValidationError
from shippers.event import WIRE_FIELDS
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.sidecar_server import SidecarServer

GOOD_ID = "good-neighbour"
GOOD = json.dumps({"id": GOOD_ID, "type": "login.completed", "userId": "u-1"}).encode()
REASONS = {r.value for r in Rejection}
# Why: a deep enough nesting to pass Python's recursion limit (1000) inside msgspec.
DEEP = 5000


def shipper_config(path: Path) -> dict[str, Any]:
    return {"buffer": {"path": str(path / "buf")}, "sinks": {"local": {"type": "file", "path": str(path / "out.ndjson")}}}


@pytest.fixture
def shipper(tmp_path: Path) -> Iterator[Shipper]:
    """A real, non-delivering shipper: the real validator, metrics and store."""
    made = Shipper.from_config(shipper_config(tmp_path))
    try:
        yield made
    finally:
        made.close(1.0)


@pytest.fixture(scope="module")
def module_shipper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipper]:
    """One shipper for the hypothesis tests (a function-scoped one would be rebuilt per example)."""
    made = Shipper.from_config(shipper_config(tmp_path_factory.mktemp("hostile")))
    try:
        yield made
    finally:
        made.close(1.0)


class Served(SidecarServer):
    """The real sidecar app over a real Shipper, with a one-request helper."""

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, bytes]:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": content_type} if body is not None else {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture
def served(shipper: Shipper) -> Iterator[Served]:
    with Served(shipper) as server:
        yield server


def item(field: str, value: bytes) -> bytes:
    """An otherwise valid event whose ``field`` holds the raw JSON ``value``."""
    if field == "type":
        return b'{"type":' + value + b"}"
    return b'{"type":"login.completed","' + field.encode() + b'":' + value + b"}"


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"a":' * depth + leaf + b"}" * depth


EXTREME_TIMES = [
    "0001-01-01T00:59:00+01:00",  # the finding: UTC conversion falls before year 1
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",  # and after year 9999
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-11-25T10:00:00+24:00",
]

HOSTILE_ITEMS = {
    "time before year 1 in UTC": item("time", json.dumps(EXTREME_TIMES[0]).encode()),
    "time after year 9999 in UTC": item("time", json.dumps(EXTREME_TIMES[2]).encode()),
    "details nested 5000 levels": item("details", nested(DEEP)),
    "details an array nested 5000 levels": item("details", b"[" * DEEP + b"]" * DEEP),
    "userId nested 5000 levels": item("userId", b"[" * DEEP + b"]" * DEEP),
    "unknown field nested 5000 levels": item("colour", nested(DEEP)),
    "details number 1e999999": item("details", b'{"n":1e999999}'),
    "details number -1e999999": item("details", b'{"n":-1e999999}'),
    "details integer of 5000 digits": item("details", b'{"n":' + b"9" * 5000 + b"}"),
    "userId number 1e999999": item("userId", b"1e999999"),
    "details NaN literal": item("details", b'{"n":NaN}'),
    "details Infinity literal": item("details", b'{"n":-Infinity}'),
    "lone surrogate in a key": item("details", b'{"\\ud800":1}'),
    "lone surrogate in userId": item("userId", b'"\\udfff"'),
    "whole item nested 5000 levels": nested(DEEP),
}


@pytest.mark.parametrize("hostile", list(HOSTILE_ITEMS.values()), ids=list(HOSTILE_ITEMS))
def test_hostile_item_is_rejected_alone_and_its_neighbours_are_committed(shipper: Shipper, hostile: bytes) -> None:
    """Each hostile item is one rejection with a reason from the closed set; the valid events on both sides are committed."""
    result = shipper.ingest_raw([GOOD, hostile, GOOD.replace(b"good-neighbour", b"good-after")])
    assert result.accepted == 2
    assert [index for index, _ in result.rejected] == [1]
    assert shipper.buffer.stats()["lastSeq"] == 2
    rejected = rejected_counts(shipper.metrics.render().decode())
    assert sum(rejected.values()) == 1
    assert set(rejected) <= REASONS


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_emit_with_an_extreme_time_raises_validation_error(shipper: Shipper, moment: str) -> None:
    """emit() with a time outside what UTC can hold raises ValidationError naming `time` (not OverflowError/ValueError)."""
    with pytest.raises(ValidationError) as caught:
        shipper.emit("login.completed", time=moment)
    assert caught.value.field == "time"
    assert caught.value.reason in (Rejection.INVALID_TIME, Rejection.FUTURE_TIME)


def test_extreme_time_in_a_batch_is_a_202_that_keeps_the_good_event(served: Served) -> None:
    """Over HTTP an array with a good event and an extreme time answers 202: one accepted, one rejected naming `time`."""
    bad = {"type": "login.completed", "time": "0001-01-01T00:59:00+01:00"}
    status, raw = served.request("POST", "/v1/events", b"[" + GOOD + b"," + json.dumps(bad).encode() + b"]")
    assert status == 202, raw
    answer = json.loads(raw)
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert answer["rejected"][0]["error"].startswith("time:")


def test_deep_and_out_of_range_ndjson_lines_are_rejected_one_by_one(served: Served) -> None:
    """NDJSON lines nested 5000 deep or holding 1e999999 are per-line rejections beside a good line, never a 500."""
    lines = [GOOD, item("details", nested(DEEP)), item("details", b'{"n":1e999999}'), nested(DEEP)]
    status, raw = served.request("POST", "/v1/events", b"\n".join(lines), "application/x-ndjson")
    assert status == 202, raw
    answer = json.loads(raw)
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1, 2, 3]


@pytest.mark.parametrize(
    "body",
    [b"[" + GOOD + b"," + b"[" * DEEP + b"]" * DEEP + b"]", b"[" * DEEP + b"]" * DEEP, nested(DEEP)],
    ids=["array with a deep element", "top-level array nested deep", "one object nested deep"],
)
def test_a_deep_body_is_never_a_500(served: Served, body: bytes) -> None:
    """A JSON body nested thousands of levels deep is answered with an error or a rejection, never a 500."""
    status, raw = served.request("POST", "/v1/events", body)
    assert status < 500, raw
    assert json.loads(raw)["error" if status == 400 else "rejected"]


@pytest.mark.parametrize(
    ("deep", "reason"),
    [(b"[" * DEEP + b"]" * DEEP, "not_an_object"), (nested(DEEP), "unknown_field"), (item("details", nested(DEEP)), "too_deep")],
    ids=["an array nested 5000 deep", "an object nested 5000 deep", "details nested 5000 deep"],
)
def test_a_deep_element_of_an_array_costs_only_itself(served: Served, shipper: Shipper, deep: bytes, reason: str) -> None:
    """A JSON array with one element nested 5000 deep is a 202: its neighbours are stored, the deep one alone is rejected."""
    after = GOOD.replace(b"good-neighbour", b"good-after")
    status, raw = served.request("POST", "/v1/events", b"[" + GOOD + b", " + deep + b", " + after + b"]")
    assert status == 202, raw
    answer = json.loads(raw)
    assert answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert rejected_counts(shipper.metrics.render().decode()) == {reason: 1}
    assert shipper.buffer.stats()["lastSeq"] == 2


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(item("userId", b'"\\ud800"'), "invalid_json"), (item("userId", b'"\xff"'), "invalid_json")],
    ids=["a lone surrogate escape", "invalid UTF-8 in a string"],
)
def test_an_unreadable_element_of_an_array_costs_only_itself(served: Served, shipper: Shipper, bad: bytes, reason: str) -> None:
    """A JSON array with one element msgspec cannot read is a 202, as the same items in NDJSON are: the bad one alone is rejected."""
    after = GOOD.replace(b"good-neighbour", b"good-after")
    status, raw = served.request("POST", "/v1/events", b"[" + GOOD + b", " + bad + b", " + after + b"]")
    assert status == 202, raw
    answer = json.loads(raw)
    assert answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1]
    assert rejected_counts(shipper.metrics.render().decode()) == {reason: 1}


@pytest.mark.parametrize("deep", [item("details", nested(DEEP)), item("details", b"[" * DEEP + b"]" * DEEP)], ids=["object", "array"])
def test_one_deep_object_is_a_422_too_deep(served: Served, shipper: Shipper, deep: bytes) -> None:
    """A body that is a single event with 'details' nested 5000 deep is one item rejected as too_deep (422), not a 400 for the body."""
    status, raw = served.request("POST", "/v1/events", deep)
    assert status == 422, raw
    answer = json.loads(raw)
    assert answer["accepted"] == 0 and [r["index"] for r in answer["rejected"]] == [0]
    assert "deep" in answer["rejected"][0]["error"]
    assert rejected_counts(shipper.metrics.render().decode()) == {"too_deep": 1}


def test_an_unexpected_validator_failure_rejects_only_that_item(shipper: Shipper, monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A bug the validator did not foresee rejects that item as `invalid`, keeps its neighbours, and logs the type, not the item."""
    real = event_module._normalise_ip

    def explode(ip: str) -> str:
        if ip == "198.51.100.77":
            raise KeyError("secret-producer-text")
        return real(ip)

    monkeypatch.setattr(event_module, "_normalise_ip", explode)
    bad = json.dumps({"type": "login.completed", "ip": "198.51.100.77", "userId": "secret-producer-text"}).encode()
    with caplog.at_level(logging.ERROR):
        result = shipper.ingest_raw([GOOD, bad])
        with pytest.raises(ValidationError) as caught:
            shipper.emit("login.completed", ip="198.51.100.77", userId="secret-producer-text")
    assert result.accepted == 1
    assert [index for index, _ in result.rejected] == [1]
    assert caught.value.reason == Rejection.INVALID
    assert "KeyError" in caplog.text
    assert "secret-producer-text" not in caplog.text
    assert "secret-producer-text" not in result.rejected[0][1]
    assert rejected_counts(shipper.metrics.render().decode()) == {"invalid": 2}


# -- hypothesis: hostile values at every field, next to a valid event ---------------------------------


def deep(depth: int, arrays: bool) -> bytes:
    return b"[" * depth + b"]" * depth if arrays else nested(depth)


depths = st.sampled_from([9, 100, 999, 1001, DEEP])
nestings = st.builds(deep, depths, st.booleans())
numbers = st.sampled_from([
    b"1e999999", b"-1e999999", b"1e-999999", b"9" * 400, b"-" + b"9" * 400, b"0." + b"0" * 400 + b"1",
    b"18446744073709551616", b"-9223372036854775809", b"1.7976931348623157e308", b"5e-324",
])
literals = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"undefined", b"0x10", b"01"])
strings = st.sampled_from([
    b'"\\ud800"', b'"\\udfff"', b'"a\\ud800b"', b'"\\udc00\\ud800"', b'"a\\u0000b"', b'"a\x00b"', b'"\xff\xfe"',
    b'"' + b"x" * 100_000 + b'"', b'"' + "é".encode() * 3000 + b'"', b'""', b'"\\u0000"',
])


def rfc3339(year: int, month: int, day: int, hour: int, minute: int, second: int, fraction: str, offset: str) -> bytes:
    return json.dumps(f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}").encode()


offsets = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "-24:00", "+01:00", ""])
times = st.builds(
    rfc3339,
    st.sampled_from([0, 1, 2, 1970, 2026, 9998, 9999]),
    st.sampled_from([1, 2, 6, 12, 13]),
    st.sampled_from([1, 28, 29, 30, 31]),
    st.sampled_from([0, 23, 24]),
    st.sampled_from([0, 59]),
    st.sampled_from([0, 59, 60, 61]),
    st.sampled_from(["", ".5", ".999999", ".123456789", ".0000000001"]),
    offsets,
)
hostile_values = nestings | numbers | literals | strings | times
field_names = st.sampled_from([*WIRE_FIELDS, "colour", "x" * 10_000, "\\ud800", "\\u0000"])


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=field_names, value=hostile_values, before=st.booleans(), whole=st.booleans())
def test_a_valid_event_beside_any_hostile_value_is_always_accepted(module_shipper: Shipper, field: str, value: bytes,
                                                                   before: bool, whole: bool) -> None:
    """Whatever hostile value sits in whichever field (or is the whole item), the valid event beside it is accepted."""
    hostile = value if whole else item(field, value)
    items = [GOOD, hostile] if before else [hostile, GOOD]
    validated = module_shipper.validate_raw(items)
    assert GOOD_ID in [event.id for event, _ in validated.accepted]
    assert len(validated.accepted) + len(validated.rejected) == 2
    for _, message in validated.rejected:
        assert message
    try:
        module_shipper.validator.decode(hostile)
    except ValidationError as exc:
        assert exc.reason != Rejection.INVALID, "a foreseeable value fell through to the last-resort catch"


def python_deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


python_values = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**400, -(10**400), 1e-320, "\ud800", "a\x00b", "x" * 100_000,
                     b"\xff", object(), {1, 2}, {(1, 2): 3}, [None] * 3]),
    st.builds(python_deep, depths),
    st.builds(circular),
    times.map(lambda raw: json.loads(raw)),
)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from([f for f in WIRE_FIELDS if f != "type"] + ["colour"]), value=python_values)
def test_emit_raises_only_validation_error(module_shipper: Shipper, field: str, value: Any) -> None:
    """emit() with any hostile Python value in any field returns an Event or raises ValidationError, nothing else; a valid emit still works after."""
    try:
        event = module_shipper.emit("login.completed", **{field: value})
    except ValidationError as exc:
        assert exc.reason in REASONS
        assert exc.reason is not Rejection.INVALID, "a foreseeable value fell through to the last-resort catch"
    else:
        assert event.type == "login.completed"
    assert module_shipper.emit("login.completed", userId="u-after").userId == "u-after"


# -- finding 5: rejection reasons are a closed set, never producer text ---------------------------------

_REJECTED_SAMPLE = re.compile(r'^authlog_events_rejected_total\{reason="([^"]*)"\} (\S+)$', re.M)


def rejected_counts(text: str) -> dict[str, float]:
    """The non-zero ``authlog_events_rejected_total`` series of a Prometheus text, by reason."""
    return {reason: float(value) for reason, value in _REJECTED_SAMPLE.findall(text) if float(value)}


def test_ten_thousand_unknown_field_names_make_a_bounded_number_of_series(served: Served) -> None:
    """10,000 events each with its own unknown field name add no series to /metrics and none of the names appears there."""
    names = [f"prod_{n:05d}_zq" for n in range(10_000)]
    for start in range(0, len(names), 2_500):
        lines = [json.dumps({"type": "login.completed", name: 1, "tenantId": "tenant-secret"}).encode() for name in names[start:start + 2_500]]
        status, raw = served.request("POST", "/v1/events", b"\n".join(lines), "application/x-ndjson")
        assert status == 422, raw
        assert len(json.loads(raw)["rejected"]) == 2_500
    status, metrics = served.request("GET", "/metrics")
    text = metrics.decode()
    assert status == 200
    reasons = set(re.findall(r'^authlog_events_rejected_total\{reason="([^"]*)"\}', text, re.M))
    assert reasons <= REASONS
    assert len(reasons) <= len(REASONS)
    assert rejected_counts(text) == {"unknown_field": 10_000.0}
    assert "prod_" not in text and "_zq" not in text and "tenant-secret" not in text


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "login.completed", "colour-of-the-sky": 1},
        {"type": "not.a.real.type.producer-text"},
        {"type": "user.locked", "reason": "producer-text-reason"},
        {"type": "login.completed", "email": "producer-text"},
        {"type": "login.completed", "ip": "producer-text"},
        {"type": "login.completed", "time": "producer-text"},
        {"type": "login.completed", "id": "producer-text\n"},
        {"type": "login.completed", "userId": ["producer-text"]},
    ],
)
def test_no_rejection_puts_producer_text_in_the_metrics(shipper: Shipper, doc: dict[str, Any]) -> None:
    """Whatever field fails, the rejection is counted under a closed-set reason and the producer's text stays out of the metrics."""
    result = shipper.ingest_raw([json.dumps(doc).encode()])
    assert len(result.rejected) == 1
    text = shipper.metrics.render().decode()
    counted = rejected_counts(text)
    assert sum(counted.values()) == 1 and set(counted) <= REASONS
    assert "producer-text" not in text and "colour-of-the-sky" not in text


def test_a_destinations_answers_never_become_labels(make_shipper: Callable[..., Shipper], fake_sleep: Any) -> None:
    """A destination's error texts (a retried 5xx, a per-item refusal) reach status and the DLQ but never /metrics labels."""
    chaos.script("c").fail(times=2, reason="503 dest-answer-zq").reject_ids({"dest-item-zq"})
    shipper = make_shipper({"c": {"type": "chaos"}}, sleep=fake_sleep)
    shipper.ingest_raw([json.dumps({"id": i, "type": "login.completed"}).encode() for i in ("dest-item-zq", "fine")])
    assert shipper.flush(10)
    shipper.status()
    text = shipper.metrics.render().decode()
    assert 'authlog_sink_dead_lettered_total{reason="rejected_by_destination",sink="c"} 1.0' in text
    assert 'authlog_sink_retries_total{sink="c"} 2.0' in text
    assert "zq" not in text
    [letter] = shipper.dead_letters("c")
    assert "dest-item-zq" in letter.reason  # the answer is kept where an operator reads it, not in a label
