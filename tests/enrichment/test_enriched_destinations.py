"""With [enrich] on, every catalog type and reason, IPv4 and IPv6, known and unknown addresses, reach Elasticsearch,
Datadog and Cloud Logging (the stand-ins) with every field their inputs allow, valid against the facts in tests/data."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shippers.catalog import builtin_catalog
from shippers.shipper import Shipper
from shippers.testing.fake_cloud_logging import FakeCloudLogging
from shippers.testing.fake_datadog import FakeDatadog
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.geo_databases import BERLIN, TEST_NETWORKS, TOKYO, Place

DATA = Path(__file__).resolve().parents[1] / "data"
ECS = json.loads((DATA / "elasticsearch" / "ecs_facts.json").read_text())
DATADOG = json.loads((DATA / "datadog" / "standard_attributes.json").read_text())
LOG_ENTRY = json.loads((DATA / "cloud_logging" / "log_entry.json").read_text())
CATALOG = builtin_catalog()
PROJECT = "enrich-project"
DD_KEY = "enrich-key"
CHROME_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
VALID_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
# address -> (place, AS number) the test databases hold for it, or None (unknown there)
ADDRESSES: dict[str, tuple[Place, int] | None] = {
    "203.0.113.7": (BERLIN, TEST_NETWORKS["203.0.113.0/25"].number),
    "203.0.113.200": None,
    "2001:db8::7": (TOKYO, TEST_NETWORKS["2001:db8::/33"].number),
    "2001:db8:8000::7": None,
}
CASES = [(kind.name, reason) for kind in CATALOG for reason in (None, *kind.reasons)]
# Why: generous; the three sinks deliver 108 events in well under a second, this is only a safety net.
FLUSH_SECONDS = 60.0


def wire_events() -> list[dict[str, Any]]:
    """Every type and reason at each address; login.invalid_email without a user id, half the trace ids invalid."""
    events = []
    for n, ((type_, reason), ip) in enumerate((case, ip) for case in CASES for ip in ADDRESSES):
        event: dict[str, Any] = {"id": f"e-{n:03d}", "type": type_, "email": f"user{n}@example.com", "ip": ip,
                                 "userAgent": CHROME_MAC if n % 3 else "zzz",
                                 "traceId": VALID_TRACE if n % 2 else f"not-a-trace-{n}"}
        if type_ != "login.invalid_email":
            event["userId"] = f"u-{n}"
        if reason is not None:
            event["reason"] = reason
        events.append(event)
    return events


EVENTS = wire_events()


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory, es_server: FakeElasticsearch, enrich_dbs: dict[str, str]) -> Iterator[dict[str, dict[str, Any]]]:
    """Every event through one Shipper with [enrich] into the three stand-ins: {destination: {event id: document}}."""
    es_server.reset()
    with FakeDatadog(api_key=DD_KEY) as dd, FakeCloudLogging(projects=(PROJECT,)) as gcl:
        retry = {"initial": "10ms", "max": "50ms"}
        config = {
            "buffer": {"path": str(tmp_path_factory.mktemp("enriched") / "buf")},
            "enrich": {**enrich_dbs, "user_agent": True},
            "sinks": {
                "search": {"type": "elasticsearch", "hosts": [es_server.url], "retry": retry},
                "dd": {"type": "datadog", "api_key": DD_KEY, "endpoint": dd.url, "hostname": "web-1", "retry": retry},
                "gcl": {"type": "cloud_logging", "project": PROJECT, "endpoint": gcl.url, "retry": retry},
            },
        }
        shipper = Shipper.from_config(config, sleep=lambda _: None, deliver=True)
        try:
            result = shipper.ingest_raw([json.dumps(e).encode() for e in EVENTS])
            assert (result.accepted, result.rejected) == (len(EVENTS), [])
            assert shipper.flush(FLUSH_SECONDS)
        finally:
            shipper.close(5.0)
        yield {
            "elasticsearch": es_server.documents("logs-authlog.events-default"),
            "datadog": {item["evt"]["id"]: item for item in dd.items()},
            "cloud_logging": {entry["insertId"]: entry for entry in gcl.entries()},
        }


def test_every_event_reaches_every_destination(delivered: dict[str, dict[str, Any]]) -> None:
    """All 108 events (27 types and reasons x 4 addresses) arrive once in each destination, the ES ones in the default data stream."""
    for name, documents in delivered.items():
        assert sorted(documents) == sorted(e["id"] for e in EVENTS), name


def _leaves(doc: dict[str, Any], stop: tuple[str, ...], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in stop:
            out.update(_leaves(value, stop, path + "."))
        else:
            out[path] = value
    return out


def _check_ecs(path: str, value: Any) -> None:
    fact = ECS["fields"][path]
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list):
        assert "array" in fact.get("normalize", []) and value, path
    for one in values:
        kind = fact["type"]
        if kind in ("keyword", "match_only_text"):
            assert isinstance(one, str) and one, path
        elif kind == "ip":
            ipaddress.ip_address(one)
        elif kind == "long":
            assert isinstance(one, int) and not isinstance(one, bool), path
        elif kind == "geo_point":
            assert set(one) == {"lat", "lon"} and -90 <= one["lat"] <= 90 and -180 <= one["lon"] <= 180, path
        elif kind == "date":
            assert datetime.fromisoformat(one).tzinfo is not None, path
        elif kind == "object":
            assert isinstance(one, dict), path
        else:
            pytest.fail(f"{path}: ECS type {kind} has no check here")
        if "allowed_values" in fact:
            assert one in fact["allowed_values"], (path, one)


@pytest.mark.parametrize("event", EVENTS, ids=[f"{e['type']}:{e.get('reason')}@{e['ip']}" for e in EVENTS])
def test_elasticsearch_documents_carry_ecs_geo_as_agent_and_identity(delivered: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    """source.geo/as for known addresses only, user_agent parts, user.name = email, related.*, event.module/provider; every field ECS-valid."""
    doc = delivered["elasticsearch"][event["id"]]
    for path, value in _leaves(doc, ("labels", "authlog", "source.geo.location")).items():
        if path == "authlog":
            continue  # our own namespace, not ECS
        assert path in ECS["fields"], f"{path} is not an ECS field we hold facts for"
        _check_ecs(path, value)
    assert doc["ecs"]["version"] == ECS["ecs_version"]
    assert (doc["event"]["module"], doc["event"]["provider"]) == ("authlog", "authlog")
    assert doc["user"]["name"] == event["email"]
    assert doc["related"]["user"] == [u for u in (event.get("userId"), event["email"]) if u]
    assert doc["related"]["ip"] == [event["ip"]] == [doc["source"]["ip"]]
    known = ADDRESSES[event["ip"]]
    if known is None:
        assert set(doc["source"]) == {"ip"}
    else:
        place, number = known
        assert doc["source"]["geo"]["city_name"] == place.city and doc["source"]["geo"]["country_iso_code"] == place.country_code
        assert doc["source"]["geo"]["location"] == {"lat": place.lat, "lon": place.lon}
        assert doc["source"]["as"]["number"] == number
    if event["userAgent"] == CHROME_MAC:
        assert doc["user_agent"] == {"original": CHROME_MAC, "name": "Chrome", "version": "120.0.0",
                                     "os": {"name": "Mac OS X", "version": "10.15.7", "full": "Mac OS X 10.15.7"},
                                     "device": {"name": "Mac"}}
    else:
        assert doc["user_agent"] == {"original": "zzz"}
    kind = CATALOG[event["type"]]
    assert (doc["event"]["category"], doc["event"]["type"]) == (list(kind.ecs_category), list(kind.ecs_type))
    if event.get("reason"):
        assert doc["event"]["reason"] == kind.reasons[event["reason"]]


def test_user_locked_reads_as_a_refused_login_in_elasticsearch(delivered: dict[str, dict[str, Any]]) -> None:
    """user.locked (either reason) is ECS authentication / start with outcome failure and the reason in event.reason."""
    locked = [e for e in EVENTS if e["type"] == "user.locked"]
    assert {e.get("reason") for e in locked} == {None, "limit_passed", "locked"}
    for event in locked:
        doc = delivered["elasticsearch"][event["id"]]["event"]
        assert (doc["category"], doc["type"], doc["outcome"]) == (["authentication"], ["start"], "failure")
        if event.get("reason"):
            assert doc["reason"] == CATALOG["user.locked"].reasons[event["reason"]]


@pytest.mark.parametrize("event", EVENTS, ids=[f"{e['type']}:{e.get('reason')}@{e['ip']}" for e in EVENTS])
def test_datadog_logs_carry_geoip_useragent_details_and_identity(delivered: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    """network.client.geoip and http.useragent_details in Datadog's layout, usr.name = email, dd.trace_id only for valid ids."""
    log = delivered["datadog"][event["id"]]
    known_names = (set(DATADOG["intake_fields"]) | set(DATADOG["reserved"]) | set(DATADOG["standard"])
                   | set(DATADOG["geoip_parser_location"]) | set(DATADOG["trace_correlation"]) | {"evt.id", "timestamp"})
    for path, value in _leaves(log, ("authlog",)).items():
        if path == "authlog":
            continue
        assert path in known_names, f"{path} is not a Datadog standard attribute"
        if DATADOG["standard"].get(path) == "string":
            assert isinstance(value, str), path
    assert log["usr"]["name"] == event["email"]
    known = ADDRESSES[event["ip"]]
    client = log["network"]["client"]
    if known is None:
        assert client == {"ip": event["ip"]}
    else:
        place, number = known
        assert client["geoip"] == {
            "country": {"iso_code": place.country_code, "name": place.country}, "continent": {"code": place.continent},
            "subdivision": {"iso_code": place.region_code, "name": place.region}, "city": {"name": place.city},
            "location": {"latitude": place.lat, "longitude": place.lon},
        }
        assert log["authlog"]["as"]["number"] == number
    if event["userAgent"] == CHROME_MAC:
        assert log["http"]["useragent_details"] == {"browser": {"family": "Chrome"}, "os": {"family": "Mac OS X"}, "device": {"family": "Mac"}}
    else:
        assert "useragent_details" not in log["http"]
    if event["traceId"] == VALID_TRACE:
        assert log["trace_id"] == VALID_TRACE and log["dd"]["trace_id"] == str(int(VALID_TRACE, 16) & (2**64 - 1))
    else:
        assert "trace_id" not in log and "dd" not in log and log["authlog"]["trace_id"] == event["traceId"]


@pytest.mark.parametrize("event", EVENTS, ids=[f"{e['type']}:{e.get('reason')}@{e['ip']}" for e in EVENTS])
def test_cloud_logging_entries_carry_the_enrichment_in_the_payload(delivered: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    """jsonPayload.enrichment with the archive line's names, userName = email, `trace` only for a valid id; LogEntry-valid."""
    entry = delivered["cloud_logging"][event["id"]]
    assert set(entry) <= set(LOG_ENTRY["log_entry_fields"])
    assert set(entry["httpRequest"]) <= set(LOG_ENTRY["http_request_fields"])
    assert entry["severity"] in LOG_ENTRY["log_severity"]
    payload = entry["jsonPayload"]
    assert payload["userName"] == event["email"] and payload["traceId"] == event["traceId"]
    known = ADDRESSES[event["ip"]]
    enrichment = payload.get("enrichment", {})
    if known is None:
        assert "geo" not in enrichment and "as" not in enrichment
    else:
        place, number = known
        assert enrichment["geo"]["cityName"] == place.city and enrichment["geo"]["countryIsoCode"] == place.country_code
        assert enrichment["as"]["number"] == number
    if event["userAgent"] == CHROME_MAC:
        assert enrichment["userAgent"]["name"] == "Chrome" and enrichment["userAgent"]["os"] == {"name": "Mac OS X", "version": "10.15.7"}
    else:
        assert "userAgent" not in enrichment
    if not enrichment:
        assert "enrichment" not in payload  # never an empty object
    if event["traceId"] == VALID_TRACE:
        assert entry["trace"] == LOG_ENTRY["trace_format"].format(project=PROJECT, trace_id=VALID_TRACE)
    else:
        assert "trace" not in entry
