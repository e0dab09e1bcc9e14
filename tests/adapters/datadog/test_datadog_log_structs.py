"""The Datadog log as Structs: the bytes the adapter sends are the dicts the mapping returns, for every event shape."""

from __future__ import annotations

import gc
import json
import re
import threading
from typing import Any

import msgspec
import pytest
from datadog_testkit import make_adapter
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.datadog import encoder as encoder_module
from adapters.datadog.encoder import encode_log
from adapters.datadog.mapping import DatadogMapping, MappingSettings, datadog_trace_id, to_datadog_log
from shippers.catalog import builtin_catalog
from shippers.enrichment.model import AutonomousSystem, Device, Enrichment, Geo, Location, OperatingSystem, UserAgent
from shippers.event import Event, EventValidator
from shippers.samples import sample_events
from shippers.testing.events import FIXED_NOW, full_event

CATALOG = builtin_catalog()
# Why 60: three rounds of the 27 (type, reason) pairs sample_events deals in turn, tenants and details varying.
SAMPLES = [
    EventValidator(CATALOG, clock=lambda: FIXED_NOW).from_fields(fields)
    for fields in sample_events(60, seed=7, now=FIXED_NOW)
]
SINK_SETTINGS = (
    MappingSettings(service="authlog", source="authlog", hostname="web-1"),
    MappingSettings(
        service="auth", source="authlog", hostname="h-1", env="prod", tags=("team:security",),
        status_by_type={"user.locked": "error"},
    ),
)
TRACE_IDS = (
    None, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "0" * 32, "00000000000000010000000000000000",
    "12345", "18446744073709551616", "4BF92F3577B34DA6A3CE929D0E0E4736", "0x0f067aa0ba902b7", "not a trace",
)

text = st.text(min_size=1, max_size=12)
maybe_text = st.none() | text
locations = st.builds(
    Location, lat=st.floats(-90, 90, allow_nan=False), lon=st.floats(-180, 180, allow_nan=False)
)
geos = st.builds(
    Geo, continentCode=maybe_text, countryIsoCode=maybe_text, countryName=maybe_text, regionIsoCode=maybe_text,
    regionName=maybe_text, cityName=maybe_text, postalCode=maybe_text, timezone=maybe_text,
    location=st.none() | locations,
)
autonomous_systems = st.builds(AutonomousSystem, number=st.none() | st.integers(0, 2**32 - 1), organization=maybe_text)
user_agents = st.builds(
    UserAgent, name=maybe_text, version=maybe_text,
    os=st.none() | st.builds(OperatingSystem, name=maybe_text, version=maybe_text),
    device=st.none() | st.builds(Device, name=maybe_text),
)
enrichments = st.none() | st.builds(
    Enrichment, geo=st.none() | geos, as_=st.none() | autonomous_systems, userAgent=st.none() | user_agents
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """A sample event with any enrichment shape, trace id, tenant, address and user agent (empty ones too)."""
    event = draw(st.sampled_from(SAMPLES))
    return msgspec.structs.replace(
        event,
        enrichment=draw(enrichments),
        traceId=draw(st.sampled_from(TRACE_IDS)),
        tenantId=draw(st.sampled_from((event.tenantId, None, "t with, commas"))),
        ip=draw(st.sampled_from((event.ip, None, ""))),
        userAgent=draw(st.sampled_from((event.userAgent, None, ""))),
        details=draw(st.sampled_from((event.details, None, {}, {"nested": {"n": [1, 2.5, None, True]}}))),
    )


@settings(deadline=None, max_examples=400)
@given(events(), st.sampled_from(SINK_SETTINGS))
def test_the_encoded_log_decodes_to_the_dict_log(event: Event, sink: MappingSettings) -> None:
    """For any event and enrichment shape, the bytes sent decode to exactly DatadogMapping.log's dict, keys in its order."""
    mapping = DatadogMapping(sink, CATALOG)
    encoded = mapping.encoded(event)
    log = mapping.log(event)
    assert json.loads(encoded) == log == to_datadog_log(event, CATALOG[event.type], sink)
    assert msgspec.json.encode(log) == encoded  # the same keys in the same order, every level


def enriched(**parts: Any) -> dict[str, Any]:
    """The log the adapter sends for a full event carrying an enrichment of these parts."""
    event = msgspec.structs.replace(full_event("login.invalid_password"), enrichment=Enrichment(**parts))
    return json.loads(make_adapter().map(event))


@pytest.mark.parametrize(
    ("geo", "geoip"),
    [
        (Geo(), None),
        (Geo(postalCode="10115", timezone="Europe/Berlin"), None),  # what Datadog's parser has no place for
        (Geo(countryIsoCode="DE"), {"country": {"iso_code": "DE"}}),
        (Geo(countryName="Germany", cityName="Berlin"), {"country": {"name": "Germany"}, "city": {"name": "Berlin"}}),
        (Geo(regionName="Bavaria", continentCode="EU"), {"continent": {"code": "EU"}, "subdivision": {"name": "Bavaria"}}),
        (Geo(location=Location(lat=-33.8688, lon=151.2093)), {"location": {"latitude": -33.8688, "longitude": 151.2093}}),
    ],
)
def test_a_partial_geo_gives_only_its_known_parts(geo: Geo, geoip: dict[str, Any] | None) -> None:
    """Each part of network.client.geoip is there only when the geo knows it; a geo with none of them adds no geoip."""
    client = enriched(geo=geo)["network"]["client"]
    assert client == ({"ip": "203.0.113.7"} if geoip is None else {"ip": "203.0.113.7", "geoip": geoip})


@pytest.mark.parametrize(
    ("agent", "details"),
    [
        (UserAgent(), None),
        (UserAgent(version="1.0", os=OperatingSystem(version="14"), device=Device()), None),
        (UserAgent(os=OperatingSystem(name="iOS")), {"os": {"family": "iOS"}}),
        (UserAgent(name="Firefox", device=Device(name="iPhone")), {"browser": {"family": "Firefox"}, "device": {"family": "iPhone"}}),
    ],
)
def test_a_partial_user_agent_gives_only_its_families(agent: UserAgent, details: dict[str, Any] | None) -> None:
    """http.useragent_details holds the families the parsed agent names; one naming none adds nothing."""
    http = enriched(userAgent=agent)["http"]
    expected: dict[str, Any] = {"useragent": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert http == (expected if details is None else {**expected, "useragent_details": details})


def test_enrichment_without_an_address_or_agent_still_lands() -> None:
    """Geo and agent families known for an event without ip or userAgent make network and http of those alone."""
    event = full_event("login.invalid_password", ip=None, userAgent=None)
    event = msgspec.structs.replace(
        event, enrichment=Enrichment(geo=Geo(cityName="Berlin"), userAgent=UserAgent(name="Chrome"))
    )
    log = json.loads(make_adapter().map(event))
    assert log["network"] == {"client": {"geoip": {"city": {"name": "Berlin"}}}}
    assert log["http"] == {"useragent_details": {"browser": {"family": "Chrome"}}}


@pytest.mark.parametrize("as_", [AutonomousSystem(number=3320, organization="Deutsche Telekom AG"), AutonomousSystem(number=64500), AutonomousSystem()])
def test_the_autonomous_system_is_the_enrichments_own(as_: AutonomousSystem) -> None:
    """authlog.as is the enrichment's AS as the archive line writes it (its known fields), last in authlog."""
    own = enriched(as_=as_)["authlog"]
    assert own["as"] == msgspec.to_builtins(as_) and list(own)[-1] == "as"


def test_the_log_is_not_tracked_by_the_garbage_collector() -> None:
    """The log's Structs, however deep, are untracked (gc=False), so a batch of them costs collections nothing to scan."""
    event = msgspec.structs.replace(
        full_event("login.invalid_password"),
        enrichment=Enrichment(
            geo=Geo(countryName="Germany", regionName="Berlin", continentCode="EU", cityName="Berlin", location=Location(lat=1.0, lon=2.0)),
            userAgent=UserAgent(name="Chrome", os=OperatingSystem(name="Mac OS X"), device=Device(name="Mac")),
            as_=AutonomousSystem(number=1),
        ),
    )
    log = DatadogMapping(SINK_SETTINGS[0], CATALOG).log_struct(event)
    structs = [log, log.evt, log.network, log.network.client, log.network.client.geoip, log.http, log.http.useragent_details, log.dd, log.authlog]
    structs += [log.network.client.geoip.country, log.network.client.geoip.location, log.http.useragent_details.os]
    assert all(part is not None and not gc.is_tracked(part) for part in structs)


def reference_trace_id(trace_id: str) -> str | None:
    """The rule as the mapping's docstring states it, written plainly (the regex engine, big integers)."""
    if re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{16}", trace_id):
        number = int(trace_id, 16)
        return str(number & (2**64 - 1)) if number else None
    if re.fullmatch(r"[0-9]{1,20}", trace_id) and 0 < int(trace_id) < 2**64:
        return str(int(trace_id))
    return None


near_hex = st.text(alphabet="0123456789abcdefABCDEF x_+-\n\u0660é", min_size=14, max_size=34)
hex_ids = st.integers(0, 2**128 - 1).map(lambda n: f"{n:032x}") | st.integers(0, 2**64 - 1).map(lambda n: f"{n:016x}")
upper_cased = st.tuples(hex_ids, st.integers(0, 31)).map(lambda pair: pair[0][: pair[1]] + pair[0][pair[1] :].upper())
# Why 2**65: decimal ids on both sides of the 64-bit bound.
decimal_ids = st.integers(0, 2**65).map(str)


@settings(deadline=None, max_examples=1500)
@given(near_hex | hex_ids | upper_cased | decimal_ids | st.sampled_from([t for t in TRACE_IDS if t]) | st.text(max_size=40))
def test_the_trace_id_follows_its_stated_rule(trace_id: str) -> None:
    """Any text is correlated exactly when it is a 32/16 lower-case hex id (lower 64 bits, not all zero) or a 64-bit decimal."""
    assert datadog_trace_id(trace_id) == reference_trace_id(trace_id)


def test_each_log_is_encoded_whole_whatever_came_before() -> None:
    """A short log after a long one (the buffer is reused) is exactly its own bytes, and an earlier result is unchanged."""
    long_log, short_log = {"details": "x" * 5000}, {"a": 1}
    first = encode_log(long_log)
    second = encode_log(short_log)
    assert (first, second) == (msgspec.json.encode(long_log), b'{"a":1}')
    assert encode_log(long_log) == first and isinstance(first, bytes)


def test_threads_encode_into_their_own_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log another thread encodes while this one is between encoding and copying out its own leaves this one's intact."""
    real = encoder_module._encoder
    other_done = threading.Event()
    others: list[bytes] = []

    class PausingEncoder:
        """The real encoder; on the test's thread it lets another thread encode a log before the copy is made."""

        def encode_into(self, log: Any, buffer: bytearray) -> None:
            real.encode_into(log, buffer)
            if threading.current_thread() is threading.main_thread() and not other_done.is_set():
                worker = threading.Thread(target=lambda: (others.append(encode_log({"other": "y" * 3000})), other_done.set()))
                worker.start()
                worker.join(5)

    monkeypatch.setattr(encoder_module, "_encoder", PausingEncoder())
    mine = encode_log({"mine": 1})
    assert other_done.is_set() and others == [msgspec.json.encode({"other": "y" * 3000})]
    assert mine == b'{"mine":1}'
