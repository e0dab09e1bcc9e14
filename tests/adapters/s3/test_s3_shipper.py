"""The S3 sink through the whole pipeline (ingest -> buffer -> worker -> adapter -> moto), read back with boto3."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from s3_testkit import unique_bucket

from shippers.shipper import Shipper
from shippers.testing.moto_s3 import MotoS3

TYPES = ["login.completed", "login.invalid_password", "user.locked", "signup.completed", "magic_link.failed", "login.invalid_email"]
TENANTS = ["t-1", "t-2", "acme:eu/1", None]
HOURS = 5
KEY = re.compile(
    r"^authlog/dt=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/tenant=(?P<tenant>[^/]+)/"
    r"(?P<first>\d{20})-(?P<last>\d{20})-archive-(?P<store>[0-9a-f]{12})\.ndjson\.gz$"
)


def sink(s3: MotoS3, bucket: str, **extra: Any) -> dict[str, Any]:
    config = {"type": "s3", "bucket": bucket, "endpoint_url": s3.url, "region": s3.region, "prefix": "authlog/",
              "partition_by": ["tenant"], "retry": {"initial": "10ms", "max": "50ms"}}
    return {"archive": {**config, **extra}}


def events(n: int, prefix: str = "e") -> list[bytes]:
    """n wire events spread over HOURS past hours and every tenant (one without)."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS + 1)
    out = []
    for i in range(n):
        doc: dict[str, Any] = {"id": f"{prefix}-{i}", "type": TYPES[i % len(TYPES)], "userId": f"u-{i % 50}",
                               "time": (base + timedelta(hours=i % HOURS, seconds=i % 3600)).isoformat().replace("+00:00", "Z")}
        if doc["type"] == "magic_link.failed":
            doc["reason"] = "expired"
        tenant = TENANTS[i % len(TENANTS)]
        if tenant is not None:
            doc["tenantId"] = tenant
        out.append(json.dumps(doc).encode())
    return out


def ingest(shipper: Shipper, items: list[bytes]) -> list[str]:
    result = shipper.ingest_raw(items)
    assert result.accepted == len(items) and not result.rejected
    return [json.loads(i)["id"] for i in items]


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll a condition (no assertion depends on how long it took)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause.wait(0.02)
    return predicate()


def stored_ids(s3: MotoS3, bucket: str) -> list[str]:
    return [line["id"] for lines in s3.read_lines(bucket).values() for line in lines]


def test_3000_events_land_partitioned_each_id_once(s3: MotoS3, make_shipper: Callable[..., Shipper]) -> None:
    """3,000 events over 5 hours and 4 tenants: every object's lines match its key's hour and tenant, every id once."""
    bucket = unique_bucket("archive")
    s3.make_bucket(bucket)
    shipper = make_shipper(sink(s3, bucket, batch={"max_events": 1000}))
    ids = ingest(shipper, events(3000))
    assert shipper.flush(60)

    objects = s3.read_lines(bucket)
    counts = Counter(stored_ids(s3, bucket))
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    partitions = set()
    for key, lines in objects.items():
        match = KEY.match(key)
        assert match, key
        assert int(match["first"]) <= int(match["last"]) and 0 < len(lines) <= 1000
        assert match["store"] == shipper.buffer.store_id
        partitions.add((match["date"], match["hour"], match["tenant"]))
        for line in lines:
            moment = datetime.fromisoformat(line["time"])
            assert (f"{moment:%Y-%m-%d}", f"{moment:%H}") == (match["date"], match["hour"]), key
            assert unquote(match["tenant"]) == line.get("tenantId", "_none")
    assert len(partitions) == HOURS * len(TENANTS)
    assert any("tenant=acme%3Aeu%2F1/" in key for key in objects)
    status = shipper.status()["sinks"]["archive"]
    assert (status["delivered"], status["duplicates"], status["deadLettered"], status["lagEvents"]) == (3000, 0, 0, 0)
    head = s3.client().head_object(Bucket=bucket, Key=next(iter(objects)))
    assert (head["ContentType"], head["ContentEncoding"]) == ("application/x-ndjson", "gzip")


def test_crash_between_put_and_ack_leaves_no_duplicate_content(s3: MotoS3, make_shipper: Callable[..., Shipper], fake_sleep) -> None:  # type: ignore[no-untyped-def]
    """Objects written but never acknowledged (answers lost, then the process stops) are resent after restart as 412s."""
    assert s3.faults is not None
    bucket = unique_bucket("crash")
    s3.make_bucket(bucket)
    s3.faults.lose_answers(None)  # every PUT is stored, every answer is lost: nothing is ever acked
    # One cut of 20 partition batches, all in flight at once (each retries until the "crash").
    first = make_shipper(sink(s3, bucket, batch={"max_events": 1000}, concurrency=32), sleep=fake_sleep)
    ids = ingest(first, events(600, "c"))
    assert not first.flush(0.2)  # asks for the cut; nothing can be acknowledged
    assert wait_until(lambda: sorted(stored_ids(s3, bucket)) == sorted(ids))
    first.close(timeout=0.5)  # "dies" with every batch recorded, written, and unacknowledged
    written = s3.objects(bucket)
    s3.faults.clear()

    second = make_shipper(sink(s3, bucket, batch={"max_events": 1000}, concurrency=32), sleep=fake_sleep)
    assert second.flush(30)
    assert s3.objects(bucket) == written  # same keys, same bytes: nothing written twice
    counts = Counter(stored_ids(s3, bucket))
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    status = second.status()["sinks"]["archive"]
    assert status["duplicates"] == 600 and status["delivered"] == 0 and status["lagEvents"] == 0


def test_injected_slowdown_is_retried_honouring_retry_after(s3: MotoS3, make_shipper: Callable[..., Shipper], fake_sleep) -> None:  # type: ignore[no-untyped-def]
    """Three 503 SlowDown answers with Retry-After: 9 are retried after >= 9 s (injected sleep); all events land once."""
    assert s3.faults is not None
    bucket = unique_bucket("slow")
    s3.make_bucket(bucket)
    injected = s3.faults.injected
    s3.faults.fail_next(3, retry_after=9)
    shipper = make_shipper(sink(s3, bucket, partition_by=[]), sleep=fake_sleep)
    ids = ingest(shipper, events(200, "s"))
    assert shipper.flush(30)
    counts = Counter(stored_ids(s3, bucket))
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    assert s3.faults.injected - injected == 3
    assert len([w for w in fake_sleep.waits if w >= 9]) >= 3
    status = shipper.status()["sinks"]["archive"]
    assert status["retries"] >= 3 and status["state"] == "active" and status["deadLettered"] == 0


def test_missing_bucket_fails_the_sink_keeps_events_then_catches_up(s3: MotoS3, make_shipper: Callable[..., Shipper], fake_sleep) -> None:  # type: ignore[no-untyped-def]
    """No bucket: status shows failing with what to fix and nothing is dead-lettered; once created, everything lands."""
    bucket = unique_bucket("later")
    shipper = make_shipper(sink(s3, bucket, batch={"timeout": "0s"}), sleep=fake_sleep)
    ids = ingest(shipper, events(300, "m"))
    assert wait_until(lambda: shipper.status()["sinks"]["archive"]["state"] == "failing")
    status = shipper.status()["sinks"]["archive"]
    assert f"bucket '{bucket}' does not exist" in status["lastError"] and "create it" in status["lastError"]
    assert status["lagEvents"] == 300 and status["deadLettered"] == 0 and status["delivered"] == 0
    assert shipper.dead_letters("archive") == []

    s3.make_bucket(bucket)
    assert shipper.flush(30)
    counts = Counter(stored_ids(s3, bucket))
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    status = shipper.status()["sinks"]["archive"]
    assert status["state"] == "active" and status["delivered"] == 300 and status["lagEvents"] == 0


def test_access_denied_keeps_events_and_names_the_permission(s3: MotoS3, make_shipper: Callable[..., Shipper], fake_sleep) -> None:  # type: ignore[no-untyped-def]
    """403 AccessDenied marks the sink failing with the s3:PutObject hint; nothing is dead-lettered; it recovers."""
    assert s3.faults is not None
    bucket = unique_bucket("denied")
    s3.make_bucket(bucket)
    s3.faults.fail_next(None, status=403, code="AccessDenied")
    shipper = make_shipper(sink(s3, bucket, batch={"timeout": "0s"}), sleep=fake_sleep)
    ids = ingest(shipper, events(50, "d"))
    assert wait_until(lambda: shipper.status()["sinks"]["archive"]["state"] == "failing")
    status = shipper.status()["sinks"]["archive"]
    assert "s3:PutObject" in status["lastError"] and status["deadLettered"] == 0 and status["lagEvents"] == 50
    s3.faults.clear()
    assert shipper.flush(30)
    assert sorted(stored_ids(s3, bucket)) == sorted(ids)


def test_ocsf_format_through_the_pipeline(s3: MotoS3, make_shipper: Callable[..., Shipper]) -> None:
    """format = "ocsf" archives one OCSF line per event, keyed like the archive lines."""
    bucket = unique_bucket("ocsf")
    s3.make_bucket(bucket)
    shipper = make_shipper(sink(s3, bucket, format="ocsf", service_name="shop"))
    ids = ingest(shipper, events(120, "o"))
    assert shipper.flush(30)
    lines = [line for lines in s3.read_lines(bucket).values() for line in lines]
    assert sorted(line["metadata"]["uid"] for line in lines) == sorted(ids)
    assert {line["class_uid"] for line in lines} == {3001, 3002}
    assert all(line["type_uid"] == line["class_uid"] * 100 + line["activity_id"] for line in lines)


def test_two_shippers_on_one_prefix_never_lose_events(s3: MotoS3, make_shipper: Callable[..., Shipper], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two sidecars with their own buffers and one config share a prefix: their keys differ by store id, and every event of both lands once."""
    bucket = unique_bucket("pods")
    s3.make_bucket(bucket)
    pod_a = make_shipper(sink(s3, bucket, partition_by=[]), buffer={"path": str(tmp_path / "pod-a")})
    pod_b = make_shipper(sink(s3, bucket, partition_by=[]), buffer={"path": str(tmp_path / "pod-b")})
    assert pod_a.buffer.store_id != pod_b.buffer.store_id
    ids_a = ingest(pod_a, events(40, "a"))
    ids_b = ingest(pod_b, events(40, "b"))  # the same seqs 1..40 in both buffers
    assert pod_a.flush(30) and pod_b.flush(30)
    counts = Counter(stored_ids(s3, bucket))
    assert sorted(counts) == sorted(ids_a + ids_b) and set(counts.values()) == {1}
    assert pod_b.status()["sinks"]["archive"]["duplicates"] == 0
