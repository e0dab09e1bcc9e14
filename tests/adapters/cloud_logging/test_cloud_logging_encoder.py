"""The Cloud Logging encoder and per-item checks: request bodies within 10 MB, entries within 256 KiB and the time window."""

from __future__ import annotations

import json

import msgspec
import pytest
from gcl_testkit import FIXED, case_id, event, every_type_and_reason, full_event, make_adapter, make_request

from adapters.cloud_logging.config import (
    BATCH_DEFAULTS,
    HARD_LIMITS,
    MAX_ENTRY_BYTES,
    MAX_REQUEST_BYTES,
)
from adapters.cloud_logging.encoder import RequestTooLarge, encode_request, request_size
from shippers.catalog import builtin_catalog
from shippers.event import SCHEMA_VERSION, Event

DAY = 24 * 3600


def test_body_is_the_write_request_with_partial_success() -> None:
    """The body is a WriteLogEntriesRequest JSON with every entry in order and partialSuccess on."""
    adapter = make_adapter()
    events = [full_event(kind.name, id=f"id-{i}") for i, kind in enumerate(builtin_catalog())]
    request = make_request(adapter, events)
    body = encode_request(request.items)
    parsed = json.loads(body)
    assert parsed["partialSuccess"] is True
    assert [e["insertId"] for e in parsed["entries"]] == [f"id-{i}" for i in range(len(events))]
    assert parsed["entries"] == [json.loads(item) for item in request.items]
    assert len(body) == request_size(request.items)


def test_empty_and_single_requests_are_valid_json() -> None:
    """Edge sizes still give valid JSON whose length request_size predicts."""
    for items in ([], [b'{"a":1}']):
        body = encode_request(items)
        assert json.loads(body)["entries"] == [json.loads(i) for i in items]
        assert len(body) == request_size(items)


def test_a_request_over_the_cap_is_refused() -> None:
    """The encoder never builds a body over 10 MB; it raises so the adapter splits instead."""
    item = b'{"x":"' + b"a" * (MAX_ENTRY_BYTES - 10) + b'"}'
    items = [item] * (MAX_REQUEST_BYTES // len(item) + 1)
    with pytest.raises(RequestTooLarge):
        encode_request(items)


def test_hard_limits_keep_every_request_under_the_cap() -> None:
    """A request filled to the hard limits (events and bytes) still fits the 10 MB request cap."""
    worst_items = HARD_LIMITS.max_events
    assert HARD_LIMITS.max_bytes + (len(b'{"entries":[],"partialSuccess":true}') + worst_items - 1) <= MAX_REQUEST_BYTES
    assert HARD_LIMITS.max_item_bytes == MAX_ENTRY_BYTES == 256 * 1024
    assert (BATCH_DEFAULTS.max_events, BATCH_DEFAULTS.max_bytes, BATCH_DEFAULTS.timeout) == (2000, 5 * 1024 * 1024, 1.0)


def test_send_splits_a_request_over_the_cap_without_calling_the_server() -> None:
    """If a request would pass 10 MB, send() answers split (or reject for one item) and makes no call."""
    adapter = make_adapter(endpoint="http://127.0.0.1:9")  # nothing listens: a call would be a retry verdict
    request = make_request(adapter, [event("login.completed", id=f"e{i}") for i in range(2)])
    big = b'{"x":"' + b"a" * (6 * 1024 * 1024) + b'"}'
    object.__setattr__(request, "items", [big, big])
    assert adapter.send(request).kind == "split"
    object.__setattr__(request, "items", [big * 2])
    object.__setattr__(request, "events", request.events[:1])
    assert adapter.send(request).kind == "reject"


@pytest.mark.parametrize("case", every_type_and_reason(), ids=case_id)
def test_normal_events_pass_the_checks(case: tuple[str, str | None]) -> None:
    """Every catalog type, fully populated, is well within the entry limit and the time window."""
    adapter = make_adapter()
    e = full_event(*case)
    item = adapter.encode_item(adapter.map(e))
    assert len(item) < MAX_ENTRY_BYTES // 10
    assert adapter.check_item(e, item, FIXED) is None


def _oversized_event() -> Event:
    """An event bigger than any validator allows (e.g. read back from an older store)."""
    kind = builtin_catalog()["login.completed"]
    return Event(
        id="big", type=kind.name, time="2026-11-25T19:34:33.123Z", details={"blob": "x" * (MAX_ENTRY_BYTES + 1)},
        action=kind.action, outcome=kind.outcome, description=kind.description, schemaVersion=SCHEMA_VERSION,
    )  # fmt: skip


def test_an_entry_over_256_kib_is_dead_lettered_with_that_reason() -> None:
    """check_item refuses an entry over 256 KiB and says so."""
    adapter = make_adapter()
    e = _oversized_event()
    item = adapter.encode_item(adapter.map(e))
    reason = adapter.check_item(e, item, FIXED)
    assert reason is not None
    assert "256 KiB" in reason and str(len(item)) in reason


def test_entries_more_than_a_day_ahead_are_dead_lettered() -> None:
    """An entry more than 1 day in the future (by the injected clock) is refused; 23 h ahead passes."""
    adapter = make_adapter()
    e = event("login.completed")
    item = adapter.encode_item(adapter.map(e))
    reason = adapter.check_item(e, item, FIXED - DAY - 60)
    assert reason is not None and "more than 1 day" in reason and "clock" in reason
    assert adapter.check_item(e, item, FIXED - 23 * 3600) is None


def test_old_entries_are_sent_and_counted_as_stale(caplog: pytest.LogCaptureFixture) -> None:
    """Entries older than 30 days pass check_item (a bucket may keep them) but are counted and logged as a warning."""
    clock_now = FIXED + 31 * DAY
    adapter = make_adapter(clock=lambda: clock_now, endpoint="http://127.0.0.1:9")
    old = event("login.completed")
    item = adapter.encode_item(adapter.map(old))
    assert adapter.check_item(old, item, clock_now) is None
    fresh = msgspec.structs.replace(old, id="fresh", time="2026-12-26T19:00:00Z")
    with caplog.at_level("WARNING"):
        adapter.send(make_request(adapter, [old, fresh]))
    assert adapter.stale_entries == 1
    assert "older than 30 days" in caplog.text
    assert "ana@" not in caplog.text
