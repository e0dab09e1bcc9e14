"""The event's ``enrichment`` (geo, AS, parsed user agent) as OCSF 1.1.0 objects (pure).

The core stores one optional ``enrichment`` object with each event, already filtered by the
sink's PII policy (each sub-key only when known)::

    geo        -> src_endpoint.location {city, country, region (ISO 3166-2), postal_code,
                  continent (name), coordinates [lon, lat], desc}
    as         -> src_endpoint.location.isp (organisation) + enrichments[] on src_endpoint.ip
    userAgent  -> device {name, type_id, os {name, version, type_id}} (host profile)
                  + enrichments[] on http_request.user_agent (browser name and version)
    geo        -> enrichments[] on src_endpoint.ip too (timezone has no 1.1.0 attribute)

An object OCSF would reject as empty (a location with none of its at-least-one attributes) is
left out rather than written half.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from adapters.s3 import ocsf_schema as schema

# Why: OCSF's location needs at least one of these (1.1.0 object constraint).
LOCATION_IDENTIFIERS = ("coordinates", "city", "country", "postal_code", "region")
# enrichment.type of each entry (free text in 1.1.0; the names of the objects later releases use).
GEO_ENRICHMENT = "location"
AS_ENRICHMENT = "autonomous_system"
USER_AGENT_ENRICHMENT = "user_agent"


def enrichment_of(event: Any) -> dict[str, Any] | None:
    """The event's ``enrichment`` as plain data, or None (an event of a release without it has none)."""
    value = getattr(event, "enrichment", None)
    if value is None or isinstance(value, dict):
        return value
    try:
        return _as_builtins(value)
    except TypeError:  # not hashable (a Struct that is not frozen): converted each time
        return _as_builtins.__wrapped__(value)


# Why: the core's enrichment Structs are frozen and shared by the events of one address and user
# agent, so a few thousand cover a busy minute; converting one costs a few µs.
@functools.lru_cache(maxsize=4096)
def _as_builtins(value: Any) -> dict[str, Any] | None:
    """A frozen Struct of the core's as plain data (its camelCase keys, unknown parts left out)."""
    builtins = msgspec.to_builtins(value)
    return builtins if isinstance(builtins, dict) else None


def location(geo: dict[str, Any] | None, autonomous: dict[str, Any] | None) -> dict[str, Any] | None:
    """``src_endpoint.location`` from the geo (and the AS organisation as ``isp``), or None."""
    out: dict[str, Any] = {}
    if geo:
        if geo.get("cityName"):
            out["city"] = geo["cityName"]
        country = geo.get("countryIsoCode")
        if country:
            out["country"] = country
        if geo.get("regionIsoCode"):
            # OCSF: "Region codes are defined at ISO 3166-2": the country's code, '-', the subdivision's.
            out["region"] = f"{country}-{geo['regionIsoCode']}" if country else geo["regionIsoCode"]
        if geo.get("postalCode"):
            out["postal_code"] = geo["postalCode"]
        continent = schema.CONTINENTS.get(geo.get("continentCode") or "")
        if continent is not None:
            out["continent"] = continent
        point = geo.get("location")
        if point and "lat" in point and "lon" in point:
            out["coordinates"] = [float(point["lon"]), float(point["lat"])]  # OCSF: [longitude, latitude]
        names = [geo[k] for k in ("cityName", "regionName", "countryName") if geo.get(k)]
        if names:
            out["desc"] = ", ".join(names)
    if not any(k in out for k in LOCATION_IDENTIFIERS):
        return None
    if autonomous and autonomous.get("organization"):
        out["isp"] = autonomous["organization"]
    return out


def device(user_agent: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``device`` a parsed user agent describes (name, type, OS), or None when it names neither."""
    if not user_agent:
        return None
    parsed_os = user_agent.get("os") or {}
    os_name = parsed_os.get("name")
    device_name = (user_agent.get("device") or {}).get("name")
    if not os_name and not device_name:
        return None
    out: dict[str, Any] = {}
    os_type_id = None
    os_object: dict[str, Any] | None = None
    if os_name:
        os_type_id, os_type = schema.OS_TYPES.get(os_name.lower(), schema.OS_OTHER)
        os_object = {"name": os_name, "type_id": os_type_id, "type": os_type}
        if parsed_os.get("version"):
            os_object["version"] = parsed_os["version"]
    # Why: device needs one of ip/uid/name/hostname...; a browser that names no device is named by its OS.
    out["name"] = device_name or os_name
    type_id, type_name = schema.DEVICE_TYPES_BY_OS.get(os_type_id or -1, schema.DEVICE_UNKNOWN)
    out["type_id"] = type_id
    out["type"] = type_name
    if os_object is not None:
        out["os"] = os_object
    return out


def enrichments(enrichment: dict[str, Any], ip_value: str, user_agent_value: str) -> list[dict[str, Any]]:
    """OCSF ``enrichments`` entries: what we added, on the attribute it was derived from."""
    out: list[dict[str, Any]] = []
    if enrichment.get("geo"):
        out.append({"name": "src_endpoint.ip", "value": ip_value, "type": GEO_ENRICHMENT, "data": enrichment["geo"]})
    if enrichment.get("as"):
        out.append({"name": "src_endpoint.ip", "value": ip_value, "type": AS_ENRICHMENT, "data": enrichment["as"]})
    if enrichment.get("userAgent"):
        out.append({
            "name": "http_request.user_agent", "value": user_agent_value, "type": USER_AGENT_ENRICHMENT,
            "data": enrichment["userAgent"],
        })
    return out
