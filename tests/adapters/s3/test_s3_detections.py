"""The detection pack's Athena SQL, run with DuckDB over OCSF Parquet the S3 sink wrote into moto: each finds exactly its triggers.

examples/detections/events holds, per detection, events that should trigger it and events that
should not; every query runs over all of them at once, so a query that fires on another
detection's events fails too. The enrichment ([enrich]: GeoIP, ASN, user agent) comes from the
pack's demo tables, and user.locked is given the catalog entry issue 13 gives it (3002 Logon,
Failure), as the mapper will receive it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from s3_testkit import SECURITY_LAKE, enriched, s3_config, unique_bucket

from adapters.contract import Request, SinkContext
from adapters.s3 import S3Adapter
from shippers.catalog import Catalog, builtin_catalog
from shippers.event import Event, EventValidator
from shippers.shipper import Shipper
from shippers.testing.moto_s3 import MotoS3

PACK = Path(__file__).parents[3] / "examples" / "detections"
EVENTS = PACK / "events"
DETECTIONS = ("brute_force", "credential_stuffing", "impossible_travel", "lockout_spike", "magic_link_device_mismatch")
LAKE = SECURITY_LAKE
AUTH_PREFIX = "ext/authlog_auth/"
# What each query's result rows are checked by: the entity a trigger file's events share.
ENTITY = {
    "brute_force": ("source_ip", "ip"),
    "credential_stuffing": ("source_ip", "ip"),
    "impossible_travel": ("who", "userId"),
    "lockout_spike": ("users", None),
    "magic_link_device_mismatch": ("who", "userId"),
}


def wire(name: str, kind: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVENTS / f"{name}.{kind}.ndjson").read_text("utf-8").splitlines()]


def all_wire() -> list[dict[str, Any]]:
    return [doc for name in DETECTIONS for kind in ("trigger", "quiet") for doc in wire(name, kind)]


def issue13_catalog() -> Catalog:
    """The built-in catalog with user.locked as issue 13 files it: a refused logon (3002 Logon, Failure)."""
    builtin = builtin_catalog()
    types = {name: builtin[name] for name in builtin.names}
    types["user.locked"] = dataclasses.replace(types["user.locked"], ocsf_class_uid=3002, ocsf_activity_id=1)
    return Catalog(types)


def enrichment_for(doc: dict[str, Any], geo: dict[str, Any], agents: dict[str, Any]) -> dict[str, Any] | None:
    """What [enrich] would add with the pack's demo databases (an address they do not know: no geo, no AS)."""
    out: dict[str, Any] = dict(geo.get(doc.get("ip", ""), {}))
    if doc.get("userAgent") in agents:
        out["userAgent"] = agents[doc["userAgent"]]
    return out or None


def write_with_the_sink(s3: MotoS3, bucket: str, events: list[Event], catalog: Catalog) -> None:
    """Cut as the core does (one batch per partition, seqs in order), then one real send per batch."""
    adapter = S3Adapter(SinkContext(name="lake", catalog=catalog, clock=lambda: 0.0),
                        s3_config(bucket=bucket, endpoint_url=s3.url, region=s3.region, format="ocsf-parquet", security_lake=LAKE))
    by_partition: dict[str, list[tuple[int, Event]]] = {}
    for seq, event in enumerate(events, start=1):
        by_partition.setdefault(adapter.partition(event), []).append((seq, event))
    for batch_id, (partition, rows) in enumerate(by_partition.items(), start=1):
        docs = [adapter.map(event) for _, event in rows]
        first, last = rows[0][0], rows[-1][0]
        request = Request(batch_id=batch_id, sink="lake", partition=partition, key=adapter.object_key(partition, first, last),
                          first_seq=first, last_seq=last, events=[e for _, e in rows], docs=docs,
                          items=[adapter.encode_item(d) for d in docs])
        assert adapter.send(request).kind == "delivered"
    adapter.close()


def lake_table(s3: MotoS3, bucket: str, directory: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with the Authentication source's objects as the table the queries name (Hive partitions read from the keys)."""
    for key, body in s3.objects(bucket, AUTH_PREFIX).items():
        path = directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    db = duckdb.connect()
    db.execute(f"CREATE VIEW authlog_authentication AS SELECT * FROM read_parquet('{directory}/{AUTH_PREFIX}**/*.parquet', hive_partitioning = true)")
    return db


def run(db: duckdb.DuckDBPyConnection, detection: str) -> list[dict[str, Any]]:
    cursor = db.execute((PACK / "athena" / f"{detection}.sql").read_text("utf-8"))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def expected(detection: str) -> set[Any]:
    column, field = ENTITY[detection]
    triggers = wire(detection, "trigger")
    if field is None:  # lockout spike: one window holding every trigger's user
        return {len({doc["userId"] for doc in triggers})}
    return {doc[field] for doc in triggers}


@pytest.fixture(scope="module")
def enriched_lake(moto_server: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """Every pack event, enriched from the demo tables, written by the real adapter into moto, as a DuckDB table."""
    geo = json.loads((EVENTS / "demo_geo.json").read_text("utf-8"))
    agents = json.loads((EVENTS / "demo_user_agents.json").read_text("utf-8"))
    catalog = issue13_catalog()
    validator = EventValidator(catalog)
    events = [enriched(validator.from_fields(doc), enrichment_for(doc, geo, agents)) for doc in all_wire()]
    bucket = unique_bucket("detections")
    moto_server.make_bucket(bucket)
    write_with_the_sink(moto_server, bucket, events, catalog)
    db = lake_table(moto_server, bucket, tmp_path_factory.mktemp("lake"))
    yield db
    db.close()


@pytest.mark.parametrize("detection", DETECTIONS)
def test_each_detection_finds_exactly_its_triggers(enriched_lake: duckdb.DuckDBPyConnection, detection: str) -> None:
    """Over all the pack's events, the query returns the trigger events' entity and nothing from any quiet event."""
    column, _ = ENTITY[detection]
    found = {row[column] for row in run(enriched_lake, detection)}
    assert found == expected(detection)


def test_impossible_travel_reports_distance_and_speed(enriched_lake: duckdb.DuckDBPyConnection) -> None:
    """Berlin -> Sydney in 30 minutes: ~16,000 km at ~32,000 km/h, countries DE then AU."""
    (row,) = run(enriched_lake, "impossible_travel")
    assert (row["prev_country"], row["country"]) == ("DE", "AU")
    assert 15_500 < row["km"] < 16_500 and row["km_per_hour"] > 30_000


def test_device_mismatch_names_the_device(enriched_lake: duckdb.DuckDBPyConnection) -> None:
    """The magic-link alert says which device and OS the link was used from."""
    (row,) = run(enriched_lake, "magic_link_device_mismatch")
    assert (row["device"], row["os"]) == ("iPhone", "iOS")


def test_every_pack_event_is_in_the_lake(enriched_lake: duckdb.DuckDBPyConnection) -> None:
    """The Authentication table holds every pack event (the pack's types are all 3002 with issue 13's catalog), each once."""
    ids = [row[0] for row in enriched_lake.execute("SELECT metadata.uid FROM authlog_authentication").fetchall()]
    assert sorted(ids) == sorted(doc["id"] for doc in all_wire())
    days = {row[0] for row in enriched_lake.execute("SELECT DISTINCT eventDay FROM authlog_authentication").fetchall()}
    assert {str(day) for day in days} == {"20261125", "20261126"}


WITHOUT_ENRICHMENT = ("brute_force", "credential_stuffing", "magic_link_device_mismatch")


def test_detections_over_the_whole_pipeline(s3: MotoS3, make_shipper: Callable[..., Shipper], tmp_path: Path) -> None:
    """Ingested through a Shipper (built-in catalog, no enrichment), the detections that need none find their triggers."""
    bucket = unique_bucket("detections")
    s3.make_bucket(bucket)
    sink = {"type": "s3", "bucket": bucket, "endpoint_url": s3.url, "region": s3.region, "format": "ocsf-parquet",
            "service_name": "shop", "security_lake": LAKE, "retry": {"initial": "10ms", "max": "50ms"}}
    shipper = make_shipper({"lake": sink})
    docs = all_wire()
    assert shipper.ingest_raw([json.dumps(doc).encode() for doc in docs]).accepted == len(docs)
    assert shipper.flush(60)
    db = lake_table(s3, bucket, tmp_path / "lake")
    for detection in WITHOUT_ENRICHMENT:
        column, _ = ENTITY[detection]
        assert {row[column] for row in run(db, detection)} == expected(detection), detection
    assert run(db, "impossible_travel") == []  # no geo without [enrich]
    db.close()


@pytest.mark.parametrize("detection", DETECTIONS)
def test_every_detection_is_written_for_every_destination(detection: str) -> None:
    """Each detection has trigger and quiet events, an Elastic, a Datadog (valid rule JSON), a Cloud Logging and an Athena query."""
    assert wire(detection, "trigger") and wire(detection, "quiet")
    for folder in ("elastic", "cloud_logging", "athena"):
        assert len(list((PACK / folder).glob(f"{detection}.*"))) == 1, (folder, detection)
    rule = json.loads((PACK / "datadog" / f"{detection}.json").read_text("utf-8"))
    assert rule["type"] == "log_detection" and rule["queries"] and rule["cases"]
    assert all(q["query"].startswith("source:authlog") for q in rule["queries"])
