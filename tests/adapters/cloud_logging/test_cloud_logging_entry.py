"""The LogEntry Structs: the bytes ``map`` sends are the dicts ``to_log_entry`` returns, key order included; the shared parts stay bounded; trace ids."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from gcl_testkit import event, make_adapter
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.cloud_logging.config import OUTCOME_SEVERITY
from adapters.cloud_logging.mapping import log_entry, to_log_entry, valid_trace_id
from adapters.cloud_logging.shared import SHARED_CACHE_BYTES, SHARED_CACHE_SIZE
from shippers.catalog import builtin_catalog
from shippers.enrichment.model import AutonomousSystem, Device, Enrichment, Geo, Location, OperatingSystem, UserAgent
from shippers.event import EventValidator
from shippers.samples import sample_events

CATALOG = builtin_catalog()
SAMPLES = [EventValidator(CATALOG).decode(msgspec.json.encode(e)) for e in sample_events(300, seed=7)]
# Sink configs that change every fixed part: resource with and without labels, sink labels, log name, severities.
TEMPLATES = [
    {},
    {"labels": {"env": "prod", "zone": 'ü "1"'}, "log_name": "auth/events.v1"},
    {"resource": {"type": "generic_node", "labels": {"location": "europe-west1", "namespace": "auth", "node_id": "web-1"}}},
    {"resource": {"type": "cloud_run_revision"}, "severity_by_type": {"login.completed": "NOTICE", "user.locked": "ERROR"}},
]
ADAPTERS = [make_adapter(**keys) for keys in TEMPLATES]

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
MAYBE_TEXT = st.none() | TEXT
GEO = st.builds(Geo, continentCode=MAYBE_TEXT, countryIsoCode=MAYBE_TEXT, cityName=MAYBE_TEXT, timezone=MAYBE_TEXT,
                location=st.none() | st.builds(Location, lat=st.floats(-90, 90), lon=st.floats(-180, 180)))  # fmt: skip
USER_AGENT = st.builds(UserAgent, name=MAYBE_TEXT, version=MAYBE_TEXT,
                       os=st.none() | st.builds(OperatingSystem, name=MAYBE_TEXT, version=MAYBE_TEXT),
                       device=st.none() | st.builds(Device, name=MAYBE_TEXT))  # fmt: skip
ENRICHMENT = st.none() | st.builds(
    Enrichment, geo=st.none() | GEO, as_=st.none() | st.builds(AutonomousSystem, number=st.none() | st.integers(0, 2**32 - 1),
                                                             organization=MAYBE_TEXT),
    userAgent=st.none() | USER_AGENT,
)  # fmt: skip
TRACE_IDS = st.none() | st.sampled_from(["4bf92f3577b34da6a3ce929d0e0e4736", "4BF92F3577B34DA6A3CE929D0E0E4736", "0" * 32, "4bf9"]) | TEXT
# Decoded JSON: no NaN or infinity can be in an event's details.
DETAILS = st.none() | st.dictionaries(TEXT, st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | TEXT, max_size=4)


def ordered(value: Any) -> Any:
    """``value`` with every dict as its list of (key, value) pairs: equal only when the key order is too."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(
    sample=st.sampled_from(SAMPLES),
    adapter=st.sampled_from(ADAPTERS),
    enrichment=ENRICHMENT,
    tenant=st.sampled_from(["keep", None, "t-ü", 'a"b\\c']),
    trace_id=st.sampled_from(["keep"]) | TRACE_IDS,
    details=st.sampled_from(["keep"]) | DETAILS,
    no_ip=st.booleans(),
    schema_version=st.sampled_from([1, 1, 2]),
)
def test_the_bytes_sent_decode_to_the_dicts_of_to_log_entry(sample: Any, adapter: Any, enrichment: Any, tenant: Any,
                                                            trace_id: Any, details: Any, no_ip: bool, schema_version: int) -> None:  # fmt: skip
    """Over sample events x enrichment shapes x templates, map's bytes decode to to_log_entry's dict in the same key order, with the labels and severity of that event."""
    changes: dict[str, Any] = {"enrichment": enrichment, "schemaVersion": schema_version}
    for name, value in (("tenantId", tenant), ("traceId", trace_id), ("details", details)):
        if value != "keep":
            changes[name] = value
    if no_ip:
        changes["ip"] = None
    e = msgspec.structs.replace(sample, **changes)

    entry = to_log_entry(e, adapter.template)
    assert ordered(json.loads(adapter.map(e))) == ordered(entry)
    expected_labels = {**adapter.config.labels, "event_type": e.type, "outcome": e.outcome}
    if e.tenantId is not None:
        expected_labels["tenant_id"] = e.tenantId
    assert ordered(entry["labels"]) == ordered(expected_labels)
    assert entry["severity"] == adapter.config.severity_by_type.get(e.type, OUTCOME_SEVERITY[e.outcome])
    assert entry["jsonPayload"]["authlog"] == {"schema_version": schema_version}
    assert entry["jsonPayload"].get("enrichment") == (None if enrichment is None else msgspec.to_builtins(enrichment))


def test_the_shared_parts_stay_within_their_count() -> None:
    """A tenant per event never holds more than SHARED_CACHE_SIZE shared parts, and every entry keeps its own tenant's labels."""
    adapter = make_adapter()
    base = event("login.completed")
    for n in range(SHARED_CACHE_SIZE + 10):
        entry = msgspec.json.decode(adapter.map(msgspec.structs.replace(base, tenantId=f"t-{n}")))
        assert entry["labels"]["tenant_id"] == f"t-{n}"
        assert len(adapter.template.shared) <= SHARED_CACHE_SIZE
    assert len(adapter.template.shared) < SHARED_CACHE_SIZE  # it started again


def test_the_shared_parts_stay_within_their_bytes() -> None:
    """1 KiB tenant ids and long sink labels keep the bytes held under SHARED_CACHE_BYTES, well before the count bound."""
    adapter = make_adapter(labels={f"label{i:02d}": "v" * 63 for i in range(61)})
    base = event("login.completed")
    for n in range(2000):
        log_entry(msgspec.structs.replace(base, tenantId=f"{n:01024d}"), adapter.template)
        assert adapter.template.shared.held_bytes <= SHARED_CACHE_BYTES
    assert len(adapter.template.shared) < 2000 < SHARED_CACHE_SIZE


def reference_trace_id(trace_id: str) -> str | None:
    """The documented rule, plainly: lower-cased, 32 hex digits, not all zero."""
    lowered = trace_id.lower()
    return lowered if re.fullmatch(r"[0-9a-f]{32}", lowered) and lowered != "0" * 32 else None


# Every character with a lower case of its own (and ASCII): the ones lower() could turn into or out of a hex digit.
CASED = [c for c in map(chr, range(0x110000)) if c.lower() != c or c < "\x80"]


@pytest.mark.parametrize("prefix", ["4bf92f3577b34da6a3ce929d0e0e473", "4bf92f3577b34da6a3ce929d0e0e47"], ids=["31", "30"])
def test_a_trace_id_is_valid_exactly_as_the_rule_says(prefix: str) -> None:
    """valid_trace_id agrees with the regex rule for every cased character at the end of a 31 or 32 character id."""
    assert [valid_trace_id(prefix + c) for c in CASED] == [reference_trace_id(prefix + c) for c in CASED]


@given(st.text(max_size=40) | st.text(alphabet="0123456789abcdefABCDEF", min_size=31, max_size=33))
def test_a_trace_id_of_any_text_is_valid_exactly_as_the_rule_says(text: str) -> None:
    """valid_trace_id agrees with the regex rule on any text, and on near-ids of hex digits of either case."""
    assert valid_trace_id(text) == reference_trace_id(text)


def test_a_template_shows_and_compares_no_tenant_it_has_mapped() -> None:
    """The remembered shared parts are no part of the template's repr or equality: a logged template never quotes a
    producer's tenant id, and two templates of one config stay equal whatever each has mapped."""
    adapter, twin = make_adapter(), make_adapter()
    adapter.map(event("login.completed", tenantId="tenant-only-the-producer-knows"))
    assert "tenant-only-the-producer-knows" not in repr(adapter.template)
    assert adapter.template == twin.template
