"""The event's enrichment (geo, AS, user agent) in OCSF 1.1.0 lines: where each part goes, always schema-valid."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from ocsf_check import ocsf_problems
from s3_testkit import (
    AUTONOMOUS_SYSTEM,
    GEO,
    USER_AGENT,
    enriched,
    every_type_and_reason,
    full_event,
    line_of,
    make_adapter,
)

from adapters.s3 import ocsf_enrichment
from adapters.s3.mapping import to_ocsf
from shippers.catalog import EventType, builtin_catalog

CASES = every_type_and_reason()
IDS = [f"{t}:{r}" for t, r in CASES]
IPV4, IPV6 = "203.0.113.7", "2001:db8::7"
# What the core gives an event, by what the databases know and what the sink's PII policy keeps.
SHAPES: dict[str, dict[str, Any] | None] = {
    "known": {"geo": GEO, "as": AUTONOMOUS_SYSTEM, "userAgent": USER_AGENT},
    "unknown_address": {"userAgent": USER_AGENT},  # the databases do not know the address: no geo, no AS
    "nothing": None,
    "country_only": {"geo": {"continentCode": "EU", "countryIsoCode": "DE", "countryName": "Germany"}},
    "continent_only": {"geo": {"continentCode": "EU"}},
    "os_only": {"userAgent": {"name": "curl", "os": {"name": "Linux"}}},
    "browser_only": {"userAgent": {"name": "Other"}},
}


@pytest.mark.parametrize(("type_", "reason"), CASES, ids=IDS)
@pytest.mark.parametrize("ip", [IPV4, IPV6])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_enriched_lines_validate(type_: str, reason: str | None, ip: str, shape: str) -> None:
    """Every type and reason, IPv4 and IPv6, whatever the databases knew: the line is valid OCSF 1.1.0."""
    shape_ = SHAPES[shape]
    event = full_event(type_, reason, ip=ip) if shape_ is None else enriched(full_event(type_, reason, ip=ip), shape_)
    assert ocsf_problems(line_of(make_adapter(format="ocsf"), event)) == []


@pytest.mark.parametrize("ip", [IPV4, IPV6])
def test_known_address_fills_location_device_and_enrichments(ip: str) -> None:
    """geo -> src_endpoint.location, AS -> location.isp + an enrichment, user agent -> device/os (host profile)."""
    line = line_of(make_adapter(format="ocsf"), enriched(full_event("login.completed", ip=ip)))
    assert line["src_endpoint"] == {
        "ip": ip,
        "location": {
            "city": "Berlin", "country": "DE", "region": "DE-BE", "postal_code": "10115", "continent": "Europe",
            "coordinates": [13.40, 52.52], "desc": "Berlin, Land Berlin, Germany", "isp": "Deutsche Telekom AG",
        },
    }
    assert line["device"] == {
        "name": "Mac", "type_id": 2, "type": "Desktop",
        "os": {"name": "Mac OS X", "type_id": 300, "type": "macOS", "version": "10.15.7"},
    }
    assert line["metadata"]["profiles"] == ["host"]
    assert line["enrichments"] == [
        {"name": "src_endpoint.ip", "value": ip, "type": "location", "data": GEO},
        {"name": "src_endpoint.ip", "value": ip, "type": "autonomous_system", "data": AUTONOMOUS_SYSTEM},
        {"name": "http_request.user_agent", "value": "Mozilla/5.0 (X11; Linux x86_64)", "type": "user_agent", "data": USER_AGENT},
    ]


def test_an_address_the_databases_do_not_know_gets_no_geo() -> None:
    """No geo and no AS: no location, no empty objects, only the user agent's device and enrichment."""
    line = line_of(make_adapter(format="ocsf"), enriched(full_event("login.invalid_password"), SHAPES["unknown_address"]))
    assert line["src_endpoint"] == {"ip": IPV4}
    assert [entry["type"] for entry in line["enrichments"]] == ["user_agent"]
    assert "device" in line


def test_a_continent_alone_is_no_location() -> None:
    """OCSF's location needs a city, country, region, postal code or coordinates: a continent alone is left out."""
    line = line_of(make_adapter(format="ocsf"), enriched(full_event("login.completed"), SHAPES["continent_only"]))
    assert "location" not in line["src_endpoint"]


def test_without_enrichment_there_are_no_enrichment_fields() -> None:
    """An event without the object (an older core, [enrich] off) gets no device, location or enrichments."""
    line = line_of(make_adapter(format="ocsf"), full_event("login.completed"))
    assert not {"device", "enrichments"} & set(line) and "location" not in line["src_endpoint"]
    assert "profiles" not in line["metadata"]


@pytest.mark.parametrize(
    ("os_name", "device_type", "os_type"),
    [("Windows", (2, "Desktop"), (100, "Windows")), ("Android", (5, "Mobile"), (201, "Android")),
     ("iOS", (5, "Mobile"), (301, "iOS")), ("iPadOS", (4, "Tablet"), (302, "iPadOS")),
     ("Ubuntu", (2, "Desktop"), (200, "Linux")), ("BeOS", (0, "Unknown"), (99, "Other"))],
)
def test_device_and_os_types_follow_the_os(os_name: str, device_type: tuple[int, str], os_type: tuple[int, str]) -> None:
    """The OS family sets os.type_id and the device's type; an OS OCSF does not list is Other, its device Unknown."""
    device = ocsf_enrichment.device({"name": "Firefox", "os": {"name": os_name}})
    assert device is not None
    assert (device["type_id"], device["type"]) == device_type
    assert (device["os"]["type_id"], device["os"]["type"]) == os_type
    assert device["name"] == os_name  # no device name: the OS names it (OCSF wants one of name/ip/uid...)


def test_hashed_address_is_not_an_ip() -> None:
    """A hashed address (pii.ip = "hash") is not an ip_t: it is src_endpoint.uid and no IP observable."""
    hashed = msgspec.structs.replace(full_event("login.completed"), ip="hmac-sha256:" + "ab" * 32)  # as the PII policy leaves it
    event = enriched(hashed, {"geo": GEO})
    line = line_of(make_adapter(format="ocsf"), event)
    assert line["src_endpoint"]["uid"].startswith("hmac-sha256:") and "ip" not in line["src_endpoint"]
    assert all(o["name"] != "src_endpoint.ip" for o in line["observables"])
    assert ocsf_problems(line) == []


def test_geo_kept_where_the_address_was_dropped_stays_valid() -> None:
    """pii.ip = "drop" with pii.geo = "keep": the location is there, the endpoint is named "[withheld]"."""
    line = line_of(make_adapter(format="ocsf"), enriched(full_event("login.completed", ip=None), {"geo": GEO}))
    assert line["src_endpoint"]["name"] == "[withheld]" and line["src_endpoint"]["location"]["city"] == "Berlin"
    assert line["enrichments"][0]["value"] == "[withheld]"
    assert ocsf_problems(line) == []


def test_a_struct_enrichment_reads_like_a_dict() -> None:
    """Whether the core's enrichment is a dict or a msgspec Struct (frozen, renamed "as", or not), the mapping reads the same keys."""

    class Geo(msgspec.Struct, frozen=True, omit_defaults=True):
        countryIsoCode: str | None = None
        cityName: str | None = None

    class AutonomousSystem(msgspec.Struct, frozen=True, omit_defaults=True):
        number: int | None = None

    class Enrichment(msgspec.Struct, frozen=True, omit_defaults=True, rename={"as_": "as"}):
        geo: Geo | None = None
        as_: AutonomousSystem | None = None

    class Loose(msgspec.Struct, omit_defaults=True):  # not frozen: not hashable
        geo: Geo | None = None

    class Holder:
        def __init__(self, enrichment: Any) -> None:
            self.enrichment = enrichment

    frozen = Holder(Enrichment(geo=Geo(countryIsoCode="DE", cityName="Berlin"), as_=AutonomousSystem(number=3320)))
    assert ocsf_enrichment.enrichment_of(frozen) == {"geo": {"countryIsoCode": "DE", "cityName": "Berlin"}, "as": {"number": 3320}}
    assert ocsf_enrichment.enrichment_of(Holder(Loose(geo=Geo(cityName="Berlin")))) == {"geo": {"cityName": "Berlin"}}


@pytest.mark.parametrize(("reason", "detail"), [("limit_passed", "User has passed the lockout policy limits and cannot login"),
                                                ("locked", "User is locked and cannot login")])
def test_user_locked_as_a_refused_logon(reason: str, detail: str) -> None:
    """With the catalog's user.locked as 3002 Logon / Failure, the line is a failed Logon saying why in status_code/detail."""
    builtin = builtin_catalog()["user.locked"]
    as_logon = EventType(name=builtin.name, action=builtin.action, outcome="failure", description=builtin.description,
                         reasons=builtin.reasons, ocsf_class_uid=3002, ocsf_activity_id=1, severity=builtin.severity)
    line = to_ocsf(full_event("user.locked", reason), as_logon, "shop")
    assert (line["class_uid"], line["activity_id"], line["type_uid"]) == (3002, 1, 300201)
    assert (line["status_id"], line["status"]) == (2, "Failure")
    assert (line["status_code"], line["status_detail"]) == (reason, detail)
    assert line["service"] == {"name": "shop"}
    assert ocsf_problems(line) == []
