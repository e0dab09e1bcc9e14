"""The ECS mapping: one canonical event -> one Elastic Common Schema document (a pure function).

What a SIEM analyst finds (DESIGN.md "Mapping per destination")::

    canonical            ECS document
    id                   event.id (and the bulk _id, see encoder.py)
    type                 event.action
    catalog outcome      event.outcome                  success | failure, never guessed from text
    catalog ECS pair     event.category, event.type     arrays, pairs ECS expects together
    time                 @timestamp
    description          message                        the reason's description, else the type's
    reason               event.reason (its description) and authlog.reason_code (its code)
    userId / email       user.id / user.email
    email, else userId   user.name                      a stable identity for failures that carry only an email
    userId, email        related.user                   (as the PII policy left them)
    ip / userAgent       source.ip / user_agent.original; related.ip
    enrichment.geo       source.geo.*                   continent_code ... location (geo_point)
    enrichment.as        source.as.number, source.as.organization.name
    enrichment.userAgent user_agent.name, .version, .os.name/.version/.full, .device.name
    tenantId             organization.id
    traceId              trace.id
    details              authlog.details                namespaced, so it can never clash with ECS
    catalog action text  authlog.action
    schemaVersion        authlog.schema_version
    (constant)           event.kind = "event", event.module = event.provider = "authlog",
                         event.dataset (config), ecs.version, labels (config)

Documents are nested objects (``{"user": {"id": ...}}``), never dotted keys, and absent
fields are left out rather than written as null. If a PII policy has hashed or masked the
IP into something that is no longer an address, it goes to ``authlog.ip`` (a keyword)
instead of ``source.ip`` (an ``ip`` field that would reject it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.identity import user_fields
from shippers.catalog import DEFAULT_ECS, EventType
from shippers.enrichment.model import Enrichment
from shippers.event import Event, is_ip_address

# Why: the latest released ECS, whose field facts the mapping is checked against
# (elastic/ecs v9.4.0, tests/data/elasticsearch/ecs_facts.json).
ECS_VERSION = "9.4.0"
# Why: ECS event.kind for a plain occurrence (not an alert, metric or state).
EVENT_KIND = "event"
# Why: ECS event.module / event.provider name what produced the document (as "okta" does for
# Elastic's Okta integration); rules and dashboards filter on them.
EVENT_MODULE = "authlog"
EVENT_PROVIDER = "authlog"

# enrichment.geo field -> ECS geo field (the ECS names; location becomes a geo_point {lat, lon})
_GEO_FIELDS = (
    ("continentCode", "continent_code"), ("countryIsoCode", "country_iso_code"), ("countryName", "country_name"),
    ("regionIsoCode", "region_iso_code"), ("regionName", "region_name"), ("cityName", "city_name"),
    ("postalCode", "postal_code"), ("timezone", "timezone"),
)


def to_ecs(
    event: Event,
    kind: EventType | None,
    *,
    dataset: str,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ECS document of ``event``; ``kind`` is its catalog entry (None if the catalog lost it).

    Written flat, field by field, on purpose: this runs once per event per sink (the hot path).
    """
    if kind is not None:
        category, types = list(kind.ecs_category), list(kind.ecs_type)
    else:
        category, types = list(DEFAULT_ECS["category"]), list(DEFAULT_ECS["type"])
    ecs_event: dict[str, Any] = {
        "id": event.id,
        "kind": EVENT_KIND,
        "category": category,
        "type": types,
        "action": event.type,
        "outcome": event.outcome,
        "module": EVENT_MODULE,
        "provider": EVENT_PROVIDER,
        "dataset": dataset,
    }
    reason = event.reason
    if reason is not None:
        ecs_event["reason"] = event.description
    doc: dict[str, Any] = {"@timestamp": event.time, "event": ecs_event, "message": event.description}

    user = user_fields(event)
    if user is not None:
        doc["user"] = user
    authlog: dict[str, Any] = {"action": event.action}
    enrichment = event.enrichment
    source: dict[str, Any] = {}
    ip = event.ip
    if ip is not None:
        if is_ip_address(ip):
            source["ip"] = ip
        else:
            authlog["ip"] = ip
    if enrichment is not None:
        _source_enrichment(source, enrichment)
    if source:
        doc["source"] = source
    if event.userAgent is not None or (enrichment is not None and enrichment.userAgent is not None):
        doc["user_agent"] = _user_agent(event.userAgent, enrichment)
    related = _related(event.userId, event.email, source.get("ip"))
    if related:
        doc["related"] = related
    if event.tenantId is not None:
        doc["organization"] = {"id": event.tenantId}
    if event.traceId is not None:
        doc["trace"] = {"id": event.traceId}
    if labels:
        doc["labels"] = dict(labels)
    doc["ecs"] = {"version": ECS_VERSION}

    if reason is not None:
        authlog["reason_code"] = reason
    if event.details is not None:
        authlog["details"] = event.details
    authlog["schema_version"] = event.schemaVersion
    doc["authlog"] = authlog
    return doc


def _source_enrichment(source: dict[str, Any], enrichment: Enrichment) -> None:
    """``source.geo`` and ``source.as`` from the enrichment (only what it knows)."""
    geo = enrichment.geo
    if geo is not None:
        fields: dict[str, Any] = {}
        for ours, ecs in _GEO_FIELDS:
            value = getattr(geo, ours)
            if value is not None:
                fields[ecs] = value
        if geo.location is not None:
            fields["location"] = {"lat": geo.location.lat, "lon": geo.location.lon}
        if fields:
            source["geo"] = fields
    as_ = enrichment.as_
    if as_ is not None:
        system: dict[str, Any] = {}
        if as_.number is not None:
            system["number"] = as_.number
        if as_.organization is not None:
            system["organization"] = {"name": as_.organization}
        source["as"] = system


def _user_agent(original: str | None, enrichment: Enrichment | None) -> dict[str, Any]:
    """ECS ``user_agent``: the original string and what enrichment parsed of it."""
    out: dict[str, Any] = {"original": original} if original is not None else {}
    parsed = enrichment.userAgent if enrichment is not None else None
    if parsed is None:
        return out
    if parsed.name is not None:
        out["name"] = parsed.name
    if parsed.version is not None:
        out["version"] = parsed.version
    system = parsed.os
    if system is not None and system.name is not None:
        os_fields = {"name": system.name}
        if system.version is not None:
            os_fields["version"] = system.version
            os_fields["full"] = f"{system.name} {system.version}"
        out["os"] = os_fields
    if parsed.device is not None and parsed.device.name is not None:
        out["device"] = {"name": parsed.device.name}
    return out


def _related(user_id: str | None, email: str | None, ip: str | None) -> dict[str, Any]:
    """ECS ``related``: every user identity and address of the event (pivot fields for hunting)."""
    related: dict[str, Any] = {}
    if user_id is not None:  # both, once each when they are the same text
        related["user"] = [user_id] if email is None or email == user_id else [user_id, email]
    elif email is not None:
        related["user"] = [email]
    if ip is not None:
        related["ip"] = [ip]
    return related
