"""The detection pack's Elastic, Datadog and Cloud Logging queries name fields and values their sinks write.

No local engine runs ES|QL, Datadog's rules or Log Analytics, so a query naming a field the mapping
never writes (or a value it never holds) would never fire, silently. Here each query's field paths
and ``field = "value"`` conditions are read off its text and looked up in the documents the real
adapters map the pack's trigger events to, enriched as in ``test_s3_detections`` (its databases
built from events/demo_geo.json, the real user-agent parser), through each sink's default config,
with its PII policy's default and with addresses hashed (a field may be in either).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_s3_detections import DETECTIONS, PACK, demo_databases, wire

from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.enrichment.enricher import build_enricher
from shippers.event import EventValidator
from shippers.pii import SinkPii
from shippers.plugins import build_adapters

# Why: the pack's events are dated 2026-11-25/26; "now" must be after them (no future-time refusal).
NOW = 1_796_000_000.0  # 2026-11-30
SINKS = {
    "es": {"type": "elasticsearch", "hosts": ["http://127.0.0.1:9"]},
    "dd": {"type": "datadog", "api_key": "dd-test-key-0123456789abcdef", "hostname": "web-1"},
    "gcl": {"type": "cloud_logging", "project": "p"},
}
_MISSING = object()


# The policies a query must work under: the default, and addresses hashed (no longer an ip type anywhere).
POLICIES = ({}, {"ip": "hash", "hash_key": "detections-test-key-0123456789abcdef"})


def _document(mapped: object) -> dict:
    """A mapping's document as a dict: Datadog and Cloud Logging map to one JSON document, Elasticsearch to its two
    `_bulk` lines (action, then the source: the document the queries read)."""
    if isinstance(mapped, dict):
        return mapped
    lines = [line for line in bytes(mapped).split(b"\n") if line.strip()]  # type: ignore[call-overload]
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{sink: {detection: [document of each trigger event, under each of POLICIES]}} through the sinks' default mappings, enriched."""
    folder = tmp_path_factory.mktemp("pack-fields")
    enrich = {**demo_databases(folder), "user_agent": True}
    catalog = builtin_catalog()
    out: dict[str, dict[str, list[dict[str, Any]]]] = {name: {d: [] for d in DETECTIONS} for name in SINKS}
    for pii in POLICIES:
        config = config_from_dict({"enrich": enrich, "sinks": {name: {**sink, "pii": pii} for name, sink in SINKS.items()}})
        validator = EventValidator(catalog, lambda: NOW, build_enricher(config.enrich))
        adapters = build_adapters(config.sinks.values(), catalog, lambda: NOW)
        views = {sink.name: SinkPii(sink.common.pii) for sink in config.sinks.values()}
        for detection in DETECTIONS:
            events = [validator.from_fields(doc) for doc in wire(detection, "trigger")]
            for name, adapter in adapters.items():
                docs = [adapter.map(views[name].view(event, None)[0]) for event in events]
                out[name][detection] += [_document(doc) for doc in docs]
    return out


def _at(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (ECS documents are nested objects), or _MISSING."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _holds(value: Any, wanted: str) -> bool:
    return wanted in value if isinstance(value, list) else value == wanted


def _check(docs: list[dict[str, Any]], paths: set[str], conditions: set[tuple[str, str]], where: str) -> None:
    """Every path is in at least one trigger document; every condition holds in at least one."""
    assert paths, f"{where}: no field names read (the parser below no longer fits the query)"
    missing = sorted(p for p in paths if all(_at(d, p) is _MISSING for d in docs))
    assert missing == [], f"{where}: fields no trigger document has"
    unmet = sorted(c for c in conditions if not any(_holds(_at(d, c[0]), c[1]) for d in docs))
    assert unmet == [], f"{where}: conditions no trigger document meets"


def _query(folder: str, detection: str, comment: str) -> tuple[str, str]:
    """(the pack's name of ``detection``'s query file in ``folder``, its text without ``comment`` comments)."""
    (query_file,) = (PACK / folder).glob(f"{detection}.*")
    text = "\n".join(line.split(comment, 1)[0] for line in query_file.read_text("utf-8").splitlines())
    return str(query_file.relative_to(PACK)), text


_ES_CONDITION = re.compile(r'([@\w.]+)\s*(?:==|:)\s*"([^"]*)"')
_ES_FIELD = re.compile(r"@timestamp|\b[a-z_]+(?:\.[a-z_]+)+\b")


@pytest.mark.parametrize("detection", DETECTIONS)
def test_elastic_queries_name_fields_the_ecs_mapping_writes(mapped: dict[str, Any], detection: str) -> None:
    """Each ES|QL / KQL query's fields and `field == "value"` conditions are in the ECS documents of its triggers."""
    name, text = _query("elastic", detection, "//")
    conditions = set(_ES_CONDITION.findall(text))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("FROM "))
    paths = set(_ES_FIELD.findall(re.sub(r'"[^"]*"', '""', body))) | {field for field, _ in conditions}
    _check(mapped["es"][detection], paths, conditions, name)


def test_elastic_queries_read_the_sinks_default_data_stream() -> None:
    """Every ES|QL query's FROM pattern matches the data stream the sink writes to by default."""
    config = config_from_dict({"sinks": {"es": SINKS["es"]}})
    (adapter,) = build_adapters(config.sinks.values(), builtin_catalog(), lambda: NOW).values()
    target = adapter.config.target  # type: ignore[attr-defined]
    for query_file in (PACK / "elastic").glob("*.esql"):
        (pattern,) = re.findall(r"^FROM (\S+)", query_file.read_text("utf-8"), re.MULTILINE)
        assert re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), target), (query_file.name, pattern, target)


_DD_CONDITION = re.compile(r"@([\w.]+):([^\s()]+)")


@pytest.mark.parametrize("detection", DETECTIONS)
def test_datadog_rules_name_attributes_the_mapping_writes(mapped: dict[str, Any], detection: str) -> None:
    """Each rule's `@attribute:value` terms, group-by, distinct and metric attributes are in its triggers' logs."""
    rule = json.loads((PACK / "datadog" / f"{detection}.json").read_text("utf-8"))
    conditions: set[tuple[str, str]] = set()
    paths: set[str] = set()
    for query in rule["queries"]:
        found = _DD_CONDITION.findall(query["query"])
        conditions |= set(found)
        paths |= {field for field, _ in found}
        named = query.get("groupByFields", []) + query.get("distinctFields", []) + [query.get("metric") or ""]
        paths |= {field.removeprefix("@") for field in named if field}
        assert query["query"].startswith("source:authlog")
    for doc in mapped["dd"][detection]:
        assert doc["ddsource"] == "authlog"  # the rules' `source:authlog`
    _check(mapped["dd"][detection], paths, conditions, f"datadog/{detection}.json")


_GCL_FIELD = re.compile(r"json_payload\.([\w.]+)|jsonPayload\.([\w.]+)")
_GCL_CONDITION = re.compile(r"(?:JSON_VALUE\(json_payload\.([\w.]+)\)\s*=\s*'([^']*)'|jsonPayload\.([\w.]+)=\"([^\"]*)\")")


@pytest.mark.parametrize("detection", DETECTIONS)
def test_cloud_logging_queries_name_payload_fields_the_mapping_writes(mapped: dict[str, Any], detection: str) -> None:
    """Each Log Analytics query's / Logging filter's jsonPayload fields and equalities are in its triggers' entries."""
    name, text = _query("cloud_logging", detection, "--")
    paths = {a or b for a, b in _GCL_FIELD.findall(text)}
    conditions = {(a or c, b or d) for a, b, c, d in _GCL_CONDITION.findall(text)}
    payloads = [entry["jsonPayload"] for entry in mapped["gcl"][detection]]
    _check(payloads, paths, conditions, name)
    log_ids = re.findall(r"log_id = '([^']+)'", text) + re.findall(r'logName="projects/PROJECT/logs/([^"]+)"', text)
    assert log_ids, "every query names the log it reads"
    for entry in mapped["gcl"][detection]:
        assert {entry["logName"].rsplit("/logs/", 1)[1]} == set(log_ids)


def test_cloud_logging_failure_lists_are_the_catalogs_authentication_failures() -> None:
    """The SQL's `type IN (...)` lists are exactly the catalog's authentication failures (a new one is not left out)."""
    catalog = builtin_catalog()
    failures = {name for name in catalog.names if catalog[name].outcome == "failure" and "authentication" in catalog[name].ecs_category}
    lists = 0
    for query_file in (PACK / "cloud_logging").glob("*.sql"):
        for listed in re.findall(r"json_payload\.type\) IN \(([^)]*)\)", query_file.read_text("utf-8")):
            assert set(re.findall(r"'([^']+)'", listed)) == failures, query_file.name
            lists += 1
    assert lists >= 2


def test_the_address_detections_read_a_hashed_address_too(mapped: dict[str, Any]) -> None:
    """Brute force and stuffing group by source.ip or, where the sink hashes it, authlog.ip (the ECS ip type refuses a hash)."""
    hashed = [doc for doc in mapped["es"]["brute_force"] if "source" not in doc or "ip" not in doc["source"]]
    assert hashed and all(doc["authlog"]["ip"].startswith("hmac-sha256:") for doc in hashed)
    for detection in ("brute_force", "credential_stuffing"):
        text = (PACK / "elastic" / f"{detection}.esql").read_text("utf-8")
        assert "COALESCE(TO_STRING(source.ip), authlog.ip)" in text and "BY client" in text


def test_the_parsers_see_a_field_the_mappings_never_write() -> None:
    """The checks can fail: a query naming source.geo.city (ECS says city_name) is caught."""
    docs = [{"source": {"geo": {"city_name": "Berlin"}}}]
    paths = set(_ES_FIELD.findall("| WHERE source.geo.city IS NOT NULL"))
    with pytest.raises(AssertionError, match="fields no trigger document has"):
        _check(docs, paths, set(), "example")
    with pytest.raises(AssertionError, match="conditions no trigger document meets"):
        _check(docs, {"source.geo.city_name"}, {("source.geo.city_name", "Tokyo")}, "example")


def test_a_path_is_looked_up_in_nested_objects() -> None:
    """`_at` walks nested objects and tells a missing part from a null value."""
    assert _at({"a": {"b": None}}, "a.b") is None
    assert _at({"a": {"b": 1}}, "a.c") is _MISSING
    assert Path(__file__).name.startswith("test_")
