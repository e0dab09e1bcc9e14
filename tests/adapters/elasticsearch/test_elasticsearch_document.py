"""The encoded _bulk item over sample events x enrichment shapes: framing, to_ecs's document, key order, no nulls."""

from __future__ import annotations

from typing import Any

import msgspec
from es_testkit import CATALOG, FIXED, make_adapter
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.elasticsearch import ElasticsearchAdapter
from adapters.elasticsearch.mapping import to_ecs
from shippers.enrichment.model import Enrichment
from shippers.event import Event, EventValidator
from shippers.samples import sample_events

# Why 200: more than len(catalog) * max(reasons), so the sample holds every type and every reason.
SAMPLES = [EventValidator(CATALOG, clock=lambda: FIXED).from_fields(f) for f in sample_events(200, seed=5, now=FIXED)]
SINKS = {
    "data stream": make_adapter(hosts=["http://127.0.0.1:9"], data_stream="logs-authlog-default"),
    "index, dataset, labels": make_adapter(
        hosts=["http://127.0.0.1:9"], index="auth-prod", dataset="auth.prod", labels={"env": "prod", "team": "idp é"}
    ),
}
# The order DESIGN.md's table writes the document in (a reader of the raw _source sees it so).
TOP_ORDER = ["@timestamp", "event", "message", "user", "source", "user_agent", "related", "organization", "trace",
             "labels", "ecs", "authlog"]
EVENT_ORDER = ["id", "kind", "category", "type", "action", "outcome", "module", "provider", "dataset", "reason"]
AUTHLOG_ORDER = ["action", "ip", "reason_code", "details", "schema_version"]

text = st.none() | st.sampled_from(["", "Berlin", 'q"uote', "line\nbreak", "ünï"])
locations = st.none() | st.fixed_dictionaries({"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)})
geo_keys = ["continentCode", "countryIsoCode", "countryName", "regionIsoCode", "regionName", "cityName", "postalCode",
            "timezone"]
geos = st.fixed_dictionaries({}, optional={**dict.fromkeys(geo_keys, text), "location": locations})
systems = st.fixed_dictionaries({}, optional={"number": st.none() | st.integers(0, 2**32 - 1), "organization": text})
operating_systems = st.fixed_dictionaries({}, optional={"name": text, "version": text})
user_agents = st.fixed_dictionaries(
    {}, optional={"name": text, "version": text, "os": st.none() | operating_systems,
                  "device": st.none() | st.fixed_dictionaries({}, optional={"name": text})},
)
enrichments = st.none() | st.fixed_dictionaries(
    {}, optional={"geo": st.none() | geos, "as": st.none() | systems, "userAgent": st.none() | user_agents}
)
overrides = st.fixed_dictionaries(
    {},
    optional={
        "ip": st.sampled_from([None, "203.0.113.0", "2001:db8::1", "hmac-sha256:0f3a", "a***"]),  # PII may leave any text
        "userId": st.sampled_from([None, "u-1", "same@example.com"]),
        "email": st.sampled_from([None, "same@example.com", "a***@example.com"]),
        "userAgent": st.sampled_from([None, "okhttp/4.12.0"]),
        "tenantId": st.none(),
        "traceId": st.none(),
        "details": st.sampled_from([None, {}, {"n": [1, 2.5, None, True], "s": "x\ny"}]),
        "type": st.just("custom.removed"),  # an extension type the catalog no longer has: kind None
    },
)


def without_none(fields: Any) -> Any:
    """``fields`` with every None value left out, nested (how the enrichment object is stored)."""
    if isinstance(fields, dict):
        return {k: without_none(v) for k, v in fields.items() if v is not None}
    return fields


def shown(sample: Event, enrichment: dict[str, Any] | None, changes: dict[str, Any]) -> Event:
    """The sample with the drawn enrichment and field changes (as a PII policy or an old store could leave it)."""
    value = msgspec.convert(without_none(enrichment), Enrichment) if enrichment is not None else None
    return msgspec.structs.replace(sample, enrichment=value, **changes)


def nulls(value: Any, path: str = "") -> list[str]:
    """The paths of every null in a decoded document (authlog.details is the producer's own and may hold them)."""
    if value is None:
        return [path]
    if isinstance(value, dict) and path != "authlog.details":
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for v in value for p in nulls(v, path)]
    return []


def item_lines(adapter: ElasticsearchAdapter, event: Event) -> tuple[bytes, bytes]:
    """The action line and the source line of the event's item (checked to be exactly two lines)."""
    item = adapter.encode_item(adapter.map(event))
    assert item.endswith(b"\n") and item.count(b"\n") == 2, "one action line, one source line"
    action, source = item.split(b"\n")[:2]
    return action, source


@settings(deadline=None, max_examples=400)
@given(st.sampled_from(SAMPLES), enrichments, overrides, st.sampled_from(sorted(SINKS)))
def test_item_is_the_action_then_exactly_the_to_ecs_document(
    sample: Event, enrichment: dict[str, Any] | None, changes: dict[str, Any], sink: str
) -> None:
    """The action line comes first with _id = event id; the source line is to_ecs's document, byte for byte."""
    adapter = SINKS[sink]
    event = shown(sample, enrichment, changes)
    action, source = item_lines(adapter, event)
    assert action.startswith(b'{"create":')
    assert msgspec.json.decode(action) == {"create": {"_index": adapter.config.target, "_id": event.id}}
    expected = to_ecs(event, CATALOG.get(event.type), dataset=adapter.config.dataset, labels=adapter.config.labels)
    assert msgspec.json.decode(source) == expected
    assert source == msgspec.json.encode(expected), "same keys in the same order, same values"


@settings(deadline=None, max_examples=400)
@given(st.sampled_from(SAMPLES), enrichments, overrides)
def test_document_keeps_the_table_order_and_writes_only_what_is_known(
    sample: Event, enrichment: dict[str, Any] | None, changes: dict[str, Any]
) -> None:
    """Keys follow the ECS table's order; no null is written; enrichment parts appear exactly when known."""
    event = shown(sample, enrichment, changes)
    doc = msgspec.json.decode(item_lines(SINKS["index, dataset, labels"], event)[1])
    assert list(doc) == [k for k in TOP_ORDER if k in doc]
    assert list(doc["event"]) == [k for k in EVENT_ORDER if k in doc["event"]]
    assert list(doc["authlog"]) == [k for k in AUTHLOG_ORDER if k in doc["authlog"]]
    assert {"@timestamp", "event", "message", "ecs", "authlog", "labels"} <= set(doc)
    assert nulls(doc) == []
    parts = event.enrichment
    geo_known = parts is not None and parts.geo is not None and any(v is not None for v in msgspec.structs.astuple(parts.geo))
    assert ("geo" in doc.get("source", {})) == geo_known
    assert ("as" in doc.get("source", {})) == (parts is not None and parts.as_ is not None)
    system = parts.userAgent.os if parts is not None and parts.userAgent is not None else None
    os_doc = doc.get("user_agent", {}).get("os")
    assert (os_doc is not None) == (system is not None and system.name is not None)
    if os_doc is not None and system is not None:
        assert os_doc.get("full") == (f"{system.name} {system.version}" if system.version is not None else None)
