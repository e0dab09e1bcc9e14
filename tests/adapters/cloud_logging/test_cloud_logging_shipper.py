"""End to end through the Shipper: ingest -> buffer -> worker -> cloud_logging adapter -> real client -> local stand-in."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from gcl_testkit import PROJECT, TRACE_ID, every_type_and_reason

from shippers.catalog import builtin_catalog
from shippers.config import load_config
from shippers.shipper import Shipper
from shippers.testing.fake_cloud_logging import FakeCloudLogging

EXAMPLE = Path(__file__).parents[3] / "examples" / "cloud_logging.toml"
SEVERITY = {"success": "INFO", "failure": "WARNING"}


@pytest.fixture(scope="module")
def live_server() -> Iterator[FakeCloudLogging]:
    """A stand-in on the wall clock, like the shipper (events are stamped at ingest)."""
    with FakeCloudLogging(projects=(PROJECT,)) as fake:
        yield fake


@pytest.fixture
def live(live_server: FakeCloudLogging) -> FakeCloudLogging:
    live_server.reset()
    return live_server


def sink(server: FakeCloudLogging, **keys: Any) -> dict[str, Any]:
    return {"gcl": {"type": "cloud_logging", "project": PROJECT, "endpoint": server.url,
                    "retry": {"initial": "10ms", "max": "50ms"}, **keys}}  # fmt: skip


def mixed_event(i: int) -> dict[str, Any]:
    """Event number i: every catalog type and reason in turn, with the optional fields varying."""
    cases = every_type_and_reason()
    type_, reason = cases[i % len(cases)]
    fields: dict[str, Any] = {"id": f"evt-{i:05d}", "userId": f"u-{i % 17}"}
    if reason:
        fields["reason"] = reason
    if i % 3:
        fields["tenantId"] = f"t-{i % 5}"
    if i % 2:
        fields["ip"] = f"203.0.113.{i % 250}"
        fields["userAgent"] = "Mozilla/5.0"
    return {"type": type_, **fields}


def ingest(shipper: Shipper, n: int) -> None:
    """Commit n mixed events the way the sidecar does (one ingest call, one transaction)."""
    result = shipper.ingest_raw([msgspec.json.encode(mixed_event(i)) for i in range(n)])
    assert (result.accepted, result.rejected) == (n, [])


def test_1500_events_with_a_503_and_one_rejected_entry(
    live: FakeCloudLogging, make_shipper: Callable[..., Shipper], fake_sleep: Callable[[float], None]
) -> None:
    """1,500 events through an injected 503 and one entry the service rejects: 1,499 stored exactly once, 1 in the DLQ with the server's message."""
    message = "Log entry evt-00777 has an invalid field (rejected by the stand-in)."
    live.reject_entries("evt-00777", message=message)
    live.fail_next(1, status=503)
    shipper = make_shipper(sink(live), sleep=fake_sleep)
    ingest(shipper, 1500)
    assert shipper.flush(60)

    stored = live.by_insert_id()
    assert len(stored) == 1499
    assert all(len(copies) == 1 for copies in stored.values()), "an entry was written twice"
    assert "evt-00777" not in stored
    assert set(stored) == {f"evt-{i:05d}" for i in range(1500)} - {"evt-00777"}

    (dead,) = shipper.dead_letters("gcl")
    assert dead.event.id == "evt-00777"
    assert message in dead.reason

    requests = live.requests()
    assert requests[0].status == 503 and requests[0].written == 0
    assert any("evt-00777" in r.insert_ids and r.failed == {r.insert_ids.index("evt-00777"): "INVALID_ARGUMENT"}
               for r in requests)  # fmt: skip
    status = shipper.status()["sinks"]["gcl"]
    assert (status["delivered"], status["deadLettered"], status["lagEvents"]) == (1499, 1, 0)
    assert status["retries"] >= 1
    assert status["state"] == "active"


def test_every_catalog_type_arrives_with_the_right_fields(live: FakeCloudLogging, make_shipper: Callable[..., Shipper]) -> None:
    """For every catalog type and reason the stored entry has the right severity, labels, logName, httpRequest, trace and payload."""
    shipper = make_shipper(sink(live, log_name="auth/events", labels={"env": "test"}, severity_by_type={"user.locked": "ERROR"}))
    cases = every_type_and_reason()
    for n, (type_, reason) in enumerate(cases):
        fields = {"id": f"c-{n}", "tenantId": "t-1", "ip": "198.51.100.9", "userAgent": "UA/1", "traceId": TRACE_ID}
        shipper.emit(type_, **fields, **({"reason": reason} if reason else {}))
    assert shipper.flush(30)

    stored = live.by_insert_id()
    assert len(stored) == len(cases)
    catalog = builtin_catalog()
    for n, (type_, reason) in enumerate(cases):
        (entry,) = stored[f"c-{n}"]
        kind = catalog[type_]
        assert entry["logName"] == f"projects/{PROJECT}/logs/auth%2Fevents"
        assert entry["severity"] == ("ERROR" if type_ == "user.locked" else SEVERITY[kind.outcome])
        assert entry["labels"] == {"env": "test", "event_type": type_, "outcome": kind.outcome, "tenant_id": "t-1"}
        assert entry["httpRequest"] == {"remoteIp": "198.51.100.9", "userAgent": "UA/1"}
        assert entry["trace"] == f"projects/{PROJECT}/traces/{TRACE_ID}"
        assert entry["resource"] == {"type": "global", "labels": {"project_id": PROJECT}}
        assert entry["jsonPayload"]["message"] == kind.describe(reason)
        assert entry["jsonPayload"]["action"] == kind.action
        assert entry["jsonPayload"].get("reason") == reason


def test_throttling_and_a_transient_entry_error_deliver_once(
    live: FakeCloudLogging, make_shipper: Callable[..., Shipper], fake_sleep: Any
) -> None:
    """A 429 is waited out (Retry-After) and a per-entry UNAVAILABLE is resent alone: every entry stored once, no dead letters."""
    live.throttle_next(1, retry_after=3)
    live.reject_entries_once("evt-00042")
    shipper = make_shipper(sink(live), sleep=fake_sleep)
    ingest(shipper, 300)
    assert shipper.flush(30)
    stored = live.by_insert_id()
    assert len(stored) == 300 and all(len(c) == 1 for c in stored.values())
    assert shipper.dead_letters("gcl") == []
    assert any(w >= 3 for w in fake_sleep.waits), "Retry-After was not honoured"
    resent = [r for r in live.requests() if r.insert_ids == ("evt-00042",)]
    assert len(resent) == 1 and resent[0].status == 200


def test_permission_denied_keeps_events_and_says_what_to_fix(
    live: FakeCloudLogging, make_shipper: Callable[..., Shipper], fake_sleep: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """403s mark the sink failing with the role to grant; nothing is dead-lettered and everything arrives once access returns."""
    live.deny_next(3)
    shipper = make_shipper(sink(live), sleep=fake_sleep)
    with caplog.at_level(logging.WARNING, logger="shippers.worker"):
        for i in range(50):
            shipper.emit(**mixed_event(i))
        assert shipper.flush(30)
    assert "roles/logging.logWriter" in caplog.text and "sink_error" in caplog.text
    assert len(live.by_insert_id()) == 50
    assert shipper.dead_letters("gcl") == []
    assert shipper.status()["sinks"]["gcl"]["state"] == "active"


def test_the_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/cloud_logging.toml passes the config loader (with its environment variables set)."""
    monkeypatch.setenv("GCP_PROJECT", "my-project-123")
    config = load_config(EXAMPLE)
    gcl = [s for s in config.sinks.values() if s.common.type == "cloud_logging"]
    assert gcl, "the example has no cloud_logging sink"
    assert gcl[0].adapter.project == "my-project-123"



def test_entries_older_than_retention_show_in_status(make_shipper) -> None:  # type: ignore[no-untyped-def]
    """Entries older than the 30-day default retention are delivered and counted under the sink's warnings in status."""
    from shippers.testing.fake_cloud_logging import FakeCloudLogging

    with FakeCloudLogging(projects=("test-project",)) as fake:
        shipper = make_shipper({"gcl": {"type": "cloud_logging", "project": "test-project", "endpoint": fake.url}})
        old = "2020-01-01T00:00:00.000Z"
        shipper.ingest_raw([b'{"id":"old-1","type":"login.completed","time":"%s"}' % old.encode(), b'{"id":"new-1","type":"login.completed"}'])
        assert shipper.flush(20)
        sink = shipper.status()["sinks"]["gcl"]
        assert sink["delivered"] == 2
        assert sink["warnings"] == {"olderThanRetention": 1}
