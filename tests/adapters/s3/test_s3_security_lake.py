"""format = "ocsf-parquet" through the whole pipeline into moto, read back with pyarrow: Security Lake's layout, every event once."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from ocsf_check import ocsf_problems
from s3_testkit import make_adapter, make_request, minimal_event, unique_bucket, without_nulls

from adapters.s3.parquet_schema import arrow_schema
from shippers.catalog import builtin_catalog
from shippers.shipper import Shipper
from shippers.testing.moto_s3 import MotoS3

LAKE = {"account_id": "123456789012", "region": "eu-central-1", "sources": {"3002": "authlog_auth", "3001": "authlog_account/2.0"}}
SOURCES = {"authlog_auth": 3002, "authlog_account/2.0": 3001}
TYPES = ["login.completed", "login.invalid_email", "user.locked", "signup.completed", "magic_link.failed", "password_reset.completed"]
DAYS = 3
KEY = re.compile(
    r"^ext/(?P<source>authlog_auth|authlog_account/2\.0)/region=eu-central-1/accountId=123456789012/"
    r"eventDay=(?P<day>\d{8})/(?P<first>\d{20})-(?P<last>\d{20})-lake-(?P<store>[0-9a-f]{12})\.parquet$"
)


def sink(s3: MotoS3, bucket: str, **extra: Any) -> dict[str, Any]:
    config = {"type": "s3", "bucket": bucket, "endpoint_url": s3.url, "region": s3.region, "format": "ocsf-parquet",
              "service_name": "shop", "security_lake": LAKE, "retry": {"initial": "10ms", "max": "50ms"}}
    return {"lake": {**config, **extra}}


def events(n: int) -> list[bytes]:
    """n wire events of both classes over DAYS past days (IPv4 and IPv6, some with only an email)."""
    base = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
    out = []
    for i in range(n):
        type_ = TYPES[i % len(TYPES)]
        doc: dict[str, Any] = {"id": f"e-{i}", "type": type_, "ip": f"203.0.113.{i % 250}" if i % 2 else f"2001:db8::{i:x}",
                               "time": (base + timedelta(days=(i // 7) % DAYS, seconds=i)).isoformat().replace("+00:00", "Z")}
        if type_ == "login.invalid_email":
            doc["email"] = f"who{i}@example.com"
        else:
            doc["userId"] = f"u-{i % 40}"
        if type_ == "magic_link.failed":
            doc["reason"] = "device_mismatch"
        if type_ == "user.locked":
            doc["reason"] = "limit_passed"
        out.append(json.dumps(doc).encode())
    return out


def read_objects(s3: MotoS3, bucket: str) -> dict[str, list[dict[str, Any]]]:
    """Every object of the bucket as its Parquet rows (schema checked on the way)."""
    out = {}
    for key, body in s3.objects(bucket).items():
        table = pq.read_table(io.BytesIO(body))
        assert table.schema.equals(arrow_schema()), key
        out[key] = table.to_pylist()
    return out


def test_events_land_one_class_per_source_one_day_per_partition(s3: MotoS3, make_shipper: Callable[..., Shipper]) -> None:
    """1,200 events of both classes over 3 days: Security Lake keys, one class and day per object, each event once, valid OCSF."""
    bucket = unique_bucket("lake")
    s3.make_bucket(bucket)
    shipper = make_shipper(sink(s3, bucket, batch={"max_events": 150}))
    wire = events(1200)
    assert shipper.ingest_raw(wire).accepted == 1200
    assert shipper.flush(60)

    objects = read_objects(s3, bucket)
    seen: Counter[str] = Counter()
    partitions = set()
    for key, rows in objects.items():
        match = KEY.match(key)
        assert match is not None, key
        assert match["store"] == shipper.buffer.store_id
        partitions.add((match["source"], match["day"]))
        assert [row["time"] for row in rows] == sorted(row["time"] for row in rows)
        for row in rows:
            assert row["class_uid"] == SOURCES[match["source"]], key
            assert f"{datetime.fromtimestamp(row['time'] / 1000, UTC):%Y%m%d}" == match["day"], key
            assert row["metadata"]["version"] == "1.1.0" and row["service"] in (None, {"name": "shop"})
            seen[row["metadata"]["uid"]] += 1
            line = without_nulls(row)
            assert ocsf_problems(line) == [], (key, ocsf_problems(line))
    assert seen == Counter({json.loads(w)["id"]: 1 for w in wire})
    assert len(partitions) == 2 * DAYS
    status = shipper.status()["sinks"]["lake"]
    assert (status["delivered"], status["duplicates"], status["deadLettered"]) == (1200, 0, 0)
    head = s3.client().head_object(Bucket=bucket, Key=next(iter(objects)))
    assert head["ContentType"] == "application/vnd.apache.parquet" and "ContentEncoding" not in head


def test_locked_and_email_only_failures_read_as_detections_need(s3: MotoS3, make_shipper: Callable[..., Shipper]) -> None:
    """Every failure has a user name (the email when there is no id), its reason in status_code and observables for the address."""
    bucket = unique_bucket("lake")
    s3.make_bucket(bucket)
    shipper = make_shipper(sink(s3, bucket))
    assert shipper.ingest_raw(events(60)).accepted == 60
    assert shipper.flush(60)
    rows = [row for rows in read_objects(s3, bucket).values() for row in rows]
    failures = [row for row in rows if row["status_id"] == 2]
    assert failures and all(row["user"]["name"] or row["user"]["uid"] for row in failures)
    email_only = [row for row in rows if row["metadata"]["event_code"] == "login.invalid_email"]
    assert email_only and all(row["user"]["name"] == row["user"]["email_addr"] and row["user"]["uid"] is None for row in email_only)
    locked = [row for row in rows if row["metadata"]["event_code"] == "user.locked"]
    assert locked and all(row["status_code"] == "limit_passed" and "cannot login" in row["status_detail"] for row in locked)
    assert all(any(o["name"] == "src_endpoint.ip" for o in row["observables"]) for row in rows)


def test_a_class_without_a_source_is_dead_lettered_with_the_fix(s3: MotoS3, make_shipper: Callable[..., Shipper]) -> None:
    """With only 3002 configured, Account Change events go to the DLQ saying which key to add; the rest land."""
    bucket = unique_bucket("lake")
    s3.make_bucket(bucket)
    shipper = make_shipper(sink(s3, bucket, security_lake={**LAKE, "sources": {"3002": "authlog_auth"}}))
    wire = events(60)
    assert shipper.ingest_raw(wire).accepted == 60
    assert shipper.flush(60)
    catalog = builtin_catalog()
    account_changes = {json.loads(w)["id"] for w in wire if catalog[json.loads(w)["type"]].ocsf_class_uid == 3001}
    letters = shipper.dead_letters("lake", limit=1000)
    assert {letter.event.id for letter in letters if letter.event is not None} == account_changes
    assert all('security_lake.sources."3001"' in letter.reason for letter in letters)
    stored = {row["metadata"]["uid"] for rows in read_objects(s3, bucket).values() for row in rows}
    assert stored == {json.loads(w)["id"] for w in wire} - account_changes


def test_a_resent_batch_is_the_same_object_and_a_duplicate(s3: MotoS3, bucket: str) -> None:
    """The same cut gives the same key and bytes after a crash: the second PUT is a 412 and counts as a duplicate."""
    events_ = [minimal_event("login.completed"), minimal_event("login.invalid_password")]
    first = make_adapter(endpoint_url=s3.url, region=s3.region, bucket=bucket, format="ocsf-parquet", security_lake=LAKE)
    request = make_request(first, events_)
    assert first.send(request).kind == "delivered"
    after_crash = make_adapter(endpoint_url=s3.url, region=s3.region, bucket=bucket, format="ocsf-parquet", security_lake=LAKE)
    again = make_request(after_crash, events_)
    assert again.key == request.key and again.key is not None and again.key.endswith(".parquet")
    assert after_crash.send(again).kind == "duplicate"
    assert list(s3.objects(bucket)) == [request.key]


PII_CASES = {
    "keep": {},
    "hashed_ip_geo_kept": {"ip": "hash", "hash_key": "k" * 32, "geo": "keep"},
    "dropped_ip_geo_kept": {"ip": "drop", "geo": "keep"},
    "masked_ip": {"ip": "mask"},
    "everything_dropped": {"ip": "drop", "email": "drop", "user_agent": "drop"},
}


@pytest.mark.parametrize("pii", sorted(PII_CASES))
def test_enriched_events_through_the_pipeline_are_valid_ocsf(s3: MotoS3, tmp_path: Path, enrich_dbs: dict[str, str], pii: str) -> None:
    """With [enrich] on and each PII policy, every row validates; a location only where the database knew the address and geo is kept."""
    bucket = unique_bucket("lake")
    s3.make_bucket(bucket)
    sink_config = sink(s3, bucket, pii=PII_CASES[pii])
    config = {"buffer": {"path": str(tmp_path / "buffer")}, "sinks": sink_config, "enrich": {**enrich_dbs, "user_agent": True}}
    shipper = Shipper.from_config(config).start()
    try:
        wire = [json.dumps({**json.loads(w), "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}).encode()
                for w in events(120)]
        assert shipper.ingest_raw(wire).accepted == 120
        assert shipper.flush(60)
    finally:
        shipper.close(timeout=5)
    rows = [without_nulls(row) for rows in read_objects(s3, bucket).values() for row in rows]
    assert len(rows) == 120 and all(ocsf_problems(row) == [] for row in rows)
    by_id = {json.loads(w)["id"]: json.loads(w) for w in events(120)}
    geo_allowed = pii in ("keep", "hashed_ip_geo_kept", "dropped_ip_geo_kept")
    for row in rows:
        ip = by_id[row["metadata"]["uid"]]["ip"]
        known = ":" in ip or int(ip.rsplit(".", 1)[1]) < 128  # TEST_PLACES: 203.0.113.0/25 and 2001:db8::/33
        assert ("location" in row.get("src_endpoint", {})) == (known and geo_allowed), (pii, ip, row.get("src_endpoint"))
        assert ("device" in row) == (pii != "everything_dropped")
    if pii == "dropped_ip_geo_kept":
        assert all(row["src_endpoint"]["name"] == "[withheld]" for row in rows if "src_endpoint" in row)
