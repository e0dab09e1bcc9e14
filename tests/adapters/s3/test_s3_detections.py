"""The detection pack's Athena SQL, run with DuckDB over OCSF Parquet a Shipper wrote into moto: each finds exactly its triggers.

examples/detections/events holds, per detection, events that should trigger it and events that
should not; every query runs over all of them at once, so a query that fires on another
detection's events fails too. The events go through a whole Shipper with ``[enrich]`` on, over
MaxMind databases built from the pack's demo table (events/demo_geo.json) and the real user-agent
parser, into the S3 sink's ``format = "ocsf-parquet"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from s3_testkit import SECURITY_LAKE, unique_bucket

from shippers.shipper import Shipper
from shippers.testing.geo_databases import Network, Place, write_asn_database, write_city_database
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


def demo_databases(folder: Path) -> dict[str, str]:
    """City and ASN databases of events/demo_geo.json (one host network per address): the [enrich] keys."""
    table = {ip: known for ip, known in json.loads((EVENTS / "demo_geo.json").read_text("utf-8")).items() if ip[0] != "_"}
    places, networks = {}, {}
    for ip, known in table.items():
        geo, owner, host = known["geo"], known["as"], "/128" if ":" in ip else "/32"
        places[ip + host] = Place(geo["continentCode"], geo["countryIsoCode"], geo["countryName"], geo["regionIsoCode"],
                                  geo["regionName"], geo["cityName"], geo["postalCode"], geo["timezone"],
                                  geo["location"]["lat"], geo["location"]["lon"])
        networks[ip + host] = Network(owner["number"], owner["organization"])
    return {"geoip_db": str(write_city_database(folder / "city.mmdb", places)),
            "asn_db": str(write_asn_database(folder / "asn.mmdb", networks))}


def ship(s3: MotoS3, bucket: str, store: Path, enrich: dict[str, Any] | None, pii: dict[str, str] | None = None) -> None:
    """Every pack event through a Shipper (with ``enrich`` as its [enrich] table, if any; ``pii`` the sink's) into the bucket."""
    sink = {"type": "s3", "bucket": bucket, "endpoint_url": s3.url, "region": s3.region, "format": "ocsf-parquet",
            "service_name": "shop", "security_lake": LAKE, "retry": {"initial": "10ms", "max": "50ms"}}
    if pii is not None:
        sink["pii"] = pii
    config: dict[str, Any] = {"buffer": {"path": str(store)}, "sinks": {"lake": sink}}
    if enrich is not None:
        config["enrich"] = enrich
    shipper = Shipper.from_config(config).start()
    try:
        docs = all_wire()
        assert shipper.ingest_raw([json.dumps(doc).encode() for doc in docs]).accepted == len(docs)
        assert shipper.flush(60)
    finally:
        shipper.close(timeout=5)


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
    """Every pack event, shipped with [enrich] (geo, AS, user agent) into moto, as the DuckDB table the queries name."""
    folder = tmp_path_factory.mktemp("pack")
    bucket = unique_bucket("detections")
    moto_server.make_bucket(bucket)
    ship(moto_server, bucket, folder / "buffer", {**demo_databases(folder), "user_agent": True})
    db = lake_table(moto_server, bucket, folder / "lake")
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
    """The Authentication table holds every pack event (the pack's types are all class 3002), each once, on its UTC day."""
    ids = [row[0] for row in enriched_lake.execute("SELECT metadata.uid FROM authlog_authentication").fetchall()]
    assert sorted(ids) == sorted(doc["id"] for doc in all_wire())
    days = {row[0] for row in enriched_lake.execute("SELECT DISTINCT eventDay FROM authlog_authentication").fetchall()}
    assert {str(day) for day in days} == {"20261125", "20261126"}


WITHOUT_ENRICHMENT = ("brute_force", "credential_stuffing", "lockout_spike", "magic_link_device_mismatch")


def test_without_enrich_the_detections_that_need_no_geo_still_work(s3: MotoS3, tmp_path: Path) -> None:
    """With [enrich] off, all but impossible travel find their triggers (the device is then unknown); impossible travel finds none."""
    bucket = unique_bucket("detections")
    s3.make_bucket(bucket)
    ship(s3, bucket, tmp_path / "buffer", None)
    db = lake_table(s3, bucket, tmp_path / "lake")
    for detection in WITHOUT_ENRICHMENT:
        column, _ = ENTITY[detection]
        assert {row[column] for row in run(db, detection)} == expected(detection), detection
    assert run(db, "impossible_travel") == []
    assert [row["device"] for row in run(db, "magic_link_device_mismatch")] == [None]
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


HASHED_IPS = {"ip": "hash", "hash_key": "detections-test-key-0123456789abcdef"}


def test_the_address_detections_still_fire_where_the_sink_hashes_ip(s3: MotoS3, tmp_path: Path) -> None:
    """With pii.ip = "hash" (the hash goes to src_endpoint.uid, not ip_t) brute force and stuffing find the triggers' hashed addresses."""
    from shippers.catalog import builtin_catalog
    from shippers.config import PiiConfig
    from shippers.event import EventValidator
    from shippers.pii import make_policy

    bucket = unique_bucket("detections")
    s3.make_bucket(bucket)
    ship(s3, bucket, tmp_path / "buffer", None, HASHED_IPS)
    db = lake_table(s3, bucket, tmp_path / "lake")
    hash_ip = make_policy(PiiConfig(**HASHED_IPS))
    assert hash_ip is not None
    validator = EventValidator(builtin_catalog())
    for detection in ("brute_force", "credential_stuffing"):
        hashed = {hash_ip(validator.from_fields({"type": "login.completed", "ip": ip})).ip for ip in expected(detection)}
        assert {row["source_ip"] for row in run(db, detection)} == hashed, detection
        assert all(ip.startswith("hmac-sha256:") for ip in hashed)
    db.close()
