"""End to end through the Shipper: ingest -> durable buffer -> worker -> Datadog adapter -> real SDK -> local intake."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from datadog_testkit import KEY, every_type_and_reason

from adapters.datadog.config import AUTH_RETRY_AFTER_SECONDS, MAX_LOGS_PER_REQUEST, MAX_PAYLOAD_BYTES
from adapters.datadog.mapping import STATUS_BY_SEVERITY
from shippers.catalog import builtin_catalog
from shippers.shipper import Shipper
from shippers.testing.fake_datadog import FakeDatadog

CATALOG = builtin_catalog()
IAM = {k.name for k in CATALOG if "iam" in k.ecs_category}
FLUSH_SECONDS = 60.0


@pytest.fixture(scope="module")
def live_intake() -> Iterator[FakeDatadog]:
    """A local intake on the real clock (the Shipper's clock is real here too), started once for this module."""
    with FakeDatadog(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def dd(live_intake: FakeDatadog) -> FakeDatadog:
    live_intake.reset()
    return live_intake


@pytest.fixture
def sleeps() -> list[float]:
    """Every backoff the workers asked for; the injected sleep returns at once so tests never wait."""
    return []


@pytest.fixture
def make_shipper(tmp_path: Path, dd: FakeDatadog, sleeps: list[float]) -> Iterator[Callable[..., Shipper]]:
    """Build and start a Shipper with one datadog sink pointed at the local intake."""
    made: list[Shipper] = []

    def build(sleep: Callable[[float], None] | None = None, **sink: Any) -> Shipper:
        config = {
            "buffer": {"path": str(tmp_path / "buf")},
            "sinks": {"dd": {"type": "datadog", "api_key": KEY, "endpoint": dd.url, "hostname": "web-1",
                             "env": "test", "batch": {"timeout": "50ms"}, **sink}},
        }
        shipper = Shipper.from_config(config, sleep=sleep or sleeps.append, deliver=True)
        made.append(shipper)
        return shipper

    yield build
    for shipper in made:
        shipper.close(timeout=5.0)


def wire_events(n: int, **extra: Any) -> list[bytes]:
    """n wire events cycling through every catalog type and reason, each with a unique id."""
    cases = every_type_and_reason()
    out = []
    for i in range(n):
        type_, reason = cases[i % len(cases)]
        event: dict[str, Any] = {"id": f"ev-{i:05d}", "type": type_, "tenantId": f"t-{i % 3}", "userId": f"u-{i}",
                                 "email": f"user{i}@example.com", "ip": "203.0.113.7", "userAgent": "pytest",
                                 "traceId": f"trace-{i}", "details": {"i": i}, **extra}
        if reason:
            event["reason"] = reason
        out.append(json.dumps(event).encode())
    return out


def check_item_attributes(item: dict[str, Any]) -> None:
    """One stored log carries every attribute of DESIGN.md's Datadog column, with its type's values."""
    kind = CATALOG[item["evt"]["name"]]
    reason = item["authlog"].get("reason")
    assert item["message"] == kind.describe(reason)
    assert (item["ddsource"], item["service"], item["hostname"]) == ("authlog", "authlog", "web-1")
    assert item["status"] == STATUS_BY_SEVERITY[kind.severity]
    assert item["evt"]["outcome"] == kind.outcome
    assert item["evt"]["category"] == ("iam" if kind.name in IAM else "authentication")
    index = int(item["evt"]["id"].split("-")[1])
    tenant = f"t-{index % 3}"
    assert item["ddtags"] == f"env:test,tenant_id:{tenant},event_type:{kind.name},outcome:{kind.outcome}"
    assert isinstance(item["timestamp"], int) and abs(item["timestamp"] / 1000 - time.time()) < 600
    assert item["usr"] == {"id": f"u-{index}", "email": f"user{index}@example.com", "name": f"user{index}@example.com"}
    assert item["network"] == {"client": {"ip": "203.0.113.7"}} and item["http"] == {"useragent": "pytest"}
    assert "trace_id" not in item and item["authlog"]["trace_id"] == f"trace-{index}"  # not a valid trace id: ours, not the reserved one
    assert item["authlog"]["tenant_id"] == tenant and item["authlog"]["schema_version"] == 1
    assert item["authlog"]["details"] == {"i": index}


def test_2500_events_with_429_and_503_all_arrive(make_shipper: Callable[..., Shipper], dd: FakeDatadog, sleeps: list[float]) -> None:
    """2,500 events through injected 429s and 503s all arrive once, in requests within the limits, with the right key."""
    dd.throttle_next(2, retry_after=7)
    dd.fail_next(2, status=503)
    shipper = make_shipper()
    result = shipper.ingest_raw(wire_events(2500))
    assert (result.accepted, result.rejected) == (2500, [])
    assert shipper.flush(timeout=FLUSH_SECONDS)

    items = dd.items()
    assert sorted(i["evt"]["id"] for i in items) == [f"ev-{i:05d}" for i in range(2500)]
    for item in items:
        check_item_attributes(item)
    requests = dd.requests()
    assert [r.status for r in requests[:4]] == [429, 429, 503, 503] and all(r.status == 202 for r in requests[4:])
    assert all(r.api_key_ok and r.content_encoding == "gzip" for r in requests)
    assert all(r.item_count is not None and r.item_count <= MAX_LOGS_PER_REQUEST for r in requests)
    assert all(r.uncompressed_bytes <= MAX_PAYLOAD_BYTES for r in requests) and dd.truncated == 0
    assert sleeps.count(7.0) >= 2  # Retry-After honoured for each 429 (the wait is at least the hint)
    status = shipper.status()["sinks"]["dd"]
    assert (status["delivered"], status["deadLettered"], status["lagEvents"], status["state"]) == (2500, 0, 0, "active")


def test_big_events_are_cut_under_5mb_whatever_the_batch_config(make_shipper: Callable[..., Shipper], dd: FakeDatadog) -> None:
    """With batch.max_bytes set above the intake's cap, 12 KB events still go in requests of at most 5 MB."""
    shipper = make_shipper(batch={"max_bytes": "50MiB", "timeout": "50ms"})
    padding = "\u20ac" * 1000 + "x" * 9000  # 12 KB as sent (the euro sign is 3 bytes of UTF-8), under the 16 KiB details cap
    assert shipper.ingest_raw(wire_events(900, details={"pad": padding})).accepted == 900
    assert shipper.flush(timeout=FLUSH_SECONDS)
    requests = dd.requests()
    assert len(dd.items()) == 900 and all(r.status == 202 for r in requests)
    assert len(requests) >= 3  # 900 x ~12.6 KB = ~11 MB: only byte limits can split it this way
    assert max(r.uncompressed_bytes for r in requests) <= MAX_PAYLOAD_BYTES
    assert max(r.uncompressed_bytes for r in requests) > 4_000_000  # batches really were filled to the byte cap


def test_oversized_log_and_too_old_event_land_in_the_dlq(
    make_shipper: Callable[..., Shipper], dd: FakeDatadog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log over the per-log limit and an event older than 18 h are dead-lettered with their reasons; the rest arrive.

    The validator caps details at 16 KiB, so no valid event reaches 1 MB: the test lowers the
    limit the encoder enforces to 4 KB to drive the same path with an event of ~6 KB.
    """
    monkeypatch.setattr("adapters.datadog.encoder.MAX_LOG_BYTES", 4000)
    shipper = make_shipper()
    nineteen_hours_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 19 * 3600))
    events = [
        b'{"id": "big", "type": "login.completed", "details": {"pad": "' + b"x" * 6000 + b'"}}',
        json.dumps({"id": "old", "type": "login.completed", "time": nineteen_hours_ago}).encode(),
        b'{"id": "ok", "type": "login.completed"}',
    ]
    assert shipper.ingest_raw(events).accepted == 3
    assert shipper.flush(timeout=FLUSH_SECONDS)
    assert [i["evt"]["id"] for i in dd.items()] == ["ok"]
    dead = {d.event.id: d.reason for d in shipper.dead_letters("dd")}
    assert set(dead) == {"big", "old"}
    assert "silently truncates" in dead["big"] and "4000" in dead["big"]
    assert "older than 18 h" in dead["old"]
    assert shipper.status()["sinks"]["dd"]["deadLettered"] == 2


def test_revoked_key_keeps_every_event_until_it_works(make_shipper: Callable[..., Shipper], dd: FakeDatadog) -> None:
    """Three 403s mark the sink failing with 'check the API key', wait the long pause each time, and lose nothing."""
    seen: list[tuple[float, str, str]] = []
    holder: list[Shipper] = []

    def sleep(seconds: float) -> None:  # records what status showed while the worker waited
        sink = holder[0].status()["sinks"]["dd"]
        seen.append((seconds, sink["state"], sink["lastError"] or ""))

    dd.forbid_next(3)
    shipper = make_shipper(sleep=sleep)
    holder.append(shipper)
    assert shipper.ingest_raw(wire_events(50)).accepted == 50
    assert shipper.flush(timeout=FLUSH_SECONDS)
    assert [r.status for r in dd.requests()] == [403, 403, 403, 202]
    assert len(dd.items()) == 50
    assert [s for s, _, _ in seen] == [AUTH_RETRY_AFTER_SECONDS] * 3
    assert all(state == "failing" and "check the API key" in error and KEY not in error for _, state, error in seen)
    status = shipper.status()["sinks"]["dd"]
    assert (status["state"], status["delivered"], status["deadLettered"]) == ("active", 50, 0)
