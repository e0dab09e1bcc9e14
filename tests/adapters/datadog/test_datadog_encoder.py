"""The Datadog encoder: the body we send is the SDK's body, counted byte for byte, and the per-log and time-window checks."""

from __future__ import annotations

import gzip
import json

import pytest
from datadog_api_client.model_utils import data_to_dict
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem
from datadog_testkit import FIXED, every_type_and_reason, full_event, make_adapter
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.datadog.config import (
    HARD_LIMITS,
    MAX_FUTURE_SECONDS,
    MAX_LOG_BYTES,
    MAX_LOGS_PER_REQUEST,
    MAX_PAST_SECONDS,
    MAX_PAYLOAD_BYTES,
)
from adapters.datadog.encoder import body_bytes, encode_body, gzip_body, outside_window, over_limits, too_large
from adapters.datadog.mapping import to_datadog_log
from shippers.catalog import builtin_catalog

CATALOG = builtin_catalog()
JSON_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
DETAILS = st.dictionaries(JSON_TEXT, st.one_of(JSON_TEXT, st.integers(-(2**53), 2**53), st.booleans(), st.none()), max_size=6)


def sdk_body(logs: list[dict]) -> bytes:
    """The uncompressed body ``LogsApi.submit_log(HTTPLog(...))`` would send for these logs (rest.py's json.dumps)."""
    return json.dumps(data_to_dict(HTTPLog([HTTPLogItem(**log) for log in logs]))).encode("utf-8")


@pytest.mark.parametrize(("type_", "reason"), every_type_and_reason())
def test_our_body_says_what_the_sdk_body_says(type_: str, reason: str | None) -> None:
    """For every type, the body built from encode_item holds exactly the JSON the SDK's own submit_log would send."""
    adapter = make_adapter(env="prod")
    event = full_event(type_, reason)
    log = to_datadog_log(event, CATALOG[type_], adapter.settings)
    body = encode_body([adapter.encode_item(adapter.map(event))])
    assert json.loads(body) == json.loads(sdk_body([log])) == [log]


@settings(max_examples=60, deadline=None)
@given(details=st.lists(DETAILS, min_size=1, max_size=5), user_agent=JSON_TEXT.filter(lambda s: s.strip() != ""))
def test_body_size_formula_is_the_sent_size_for_any_text(details: list[dict], user_agent: str) -> None:
    """Whatever the characters, body_bytes is the exact size of the body sent, which gunzips from what goes on the wire."""
    adapter = make_adapter()
    events = [full_event("login.completed", details=d or None, userAgent=user_agent) for d in details]
    logs = [to_datadog_log(e, CATALOG["login.completed"], adapter.settings) for e in events]
    items = [adapter.encode_item(adapter.map(e)) for e in events]
    body = encode_body(items)
    assert body_bytes(items) == len(body) and gzip.decompress(gzip_body(items)) == body
    assert json.loads(body) == json.loads(sdk_body(logs))


def test_non_ascii_is_counted_as_the_utf8_sent() -> None:
    """A detail of emoji is sent as UTF-8 (4 bytes per character), not as 12-byte escapes, and counted so."""
    item = make_adapter().map(full_event("login.completed", details={"e": "\U0001f600" * 100}))
    assert item.count("\U0001f600".encode()) == 100 and b"\\ud83d" not in item


def test_hard_limits_keep_a_full_request_under_the_payload_cap() -> None:
    """1000 items whose sizes sum to the hard byte limit make a body of at most 5 MB; one byte more is over."""
    per_item, extra = divmod(HARD_LIMITS.max_bytes, MAX_LOGS_PER_REQUEST)
    items = [b"x" * (per_item + (1 if i < extra else 0)) for i in range(MAX_LOGS_PER_REQUEST)]
    assert sum(map(len, items)) == HARD_LIMITS.max_bytes
    assert body_bytes(items) == MAX_PAYLOAD_BYTES and over_limits(items) is None
    assert over_limits([*items[:-1], items[-1] + b"x"]) is not None
    assert HARD_LIMITS.max_events == MAX_LOGS_PER_REQUEST and HARD_LIMITS.max_item_bytes == MAX_LOG_BYTES


def test_too_many_logs_is_over_the_limits() -> None:
    """1001 tiny logs break the 1000-entry array limit."""
    assert "1001 logs" in (over_limits([b"{}"] * 1001) or "")
    assert over_limits([b"{}"] * 1000) is None


def test_empty_body_size() -> None:
    """An empty array is two bytes; one log adds no separator, each further one a comma."""
    assert body_bytes([]) == 2 and body_bytes([b"{}"]) == 4 and body_bytes([b"{}", b"{}"]) == 7


@pytest.mark.parametrize(("size", "dead"), [(MAX_LOG_BYTES, False), (MAX_LOG_BYTES + 1, True)])
def test_one_megabyte_per_log(size: int, dead: bool) -> None:
    """A log of exactly 1 MB passes; one byte more is dead-lettered with a reason naming the truncation."""
    reason = too_large(b"x" * size)
    assert (reason is not None) is dead
    if reason:
        assert "truncates" in reason and str(size) in reason


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [
        (0, None),
        (MAX_PAST_SECONDS - 1, None),
        (MAX_PAST_SECONDS, None),
        (MAX_PAST_SECONDS + 1, "older than 18 h"),
        (-MAX_FUTURE_SECONDS, None),
        (-MAX_FUTURE_SECONDS - 1, "more than 2 h ahead"),
    ],
)
def test_time_window_boundaries(offset: int, verdict: str | None) -> None:
    """Up to 18 h old and 2 h ahead is sent; beyond either edge is dead-lettered with a reason saying which."""
    event_ms = int((FIXED - offset) * 1000)
    reason = outside_window(event_ms, FIXED)
    if verdict is None:
        assert reason is None
    else:
        assert reason is not None and verdict in reason and "dead-lettered" in reason
