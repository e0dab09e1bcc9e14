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

The document's objects, keys and order are the Structs of :mod:`.document`; :class:`EcsMapping` fills
them (one per sink: its constant parts made once) and :func:`to_ecs` is the same document as a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from adapters.elasticsearch.document import (
    AuthlogFields,
    EcsAs,
    EcsDocument,
    EcsEvent,
    EcsGeo,
    EcsOs,
    EcsRelated,
    EcsSource,
    EcsUserAgent,
    Identified,
    Named,
)
from adapters.identity import user_fields
from shippers.catalog import DEFAULT_ECS, EventType
from shippers.enrichment.model import Enrichment, Geo
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

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_ECS = msgspec.Raw(_encode({"version": ECS_VERSION}))
_DEFAULT_CATEGORY, _DEFAULT_TYPE = tuple(DEFAULT_ECS["category"]), tuple(DEFAULT_ECS["type"])
_NO_GEO = Geo()  # a geo object with nothing known maps to no source.geo


class EcsMapping:
    """The ECS documents of one sink: ``document(event, kind)``, with the sink's constant parts made once."""

    __slots__ = ("dataset", "labels")

    def __init__(self, dataset: str, labels: Mapping[str, str] | None = None) -> None:
        self.dataset = dataset
        self.labels = msgspec.Raw(_encode(dict(labels))) if labels else None

    def document(self, event: Event, kind: EventType | None) -> EcsDocument:
        """The ECS document of ``event``; ``kind`` is its catalog entry (None if the catalog lost it).

        Written flat, field by field, on purpose: this runs once per event per sink (the hot path).
        """
        if kind is not None:
            category, types = kind.ecs_category, kind.ecs_type
        else:
            category, types = _DEFAULT_CATEGORY, _DEFAULT_TYPE
        reason = event.reason
        description = event.description
        ecs_event = EcsEvent(
            event.id, EVENT_KIND, category, types, event.type, event.outcome, EVENT_MODULE, EVENT_PROVIDER,
            self.dataset, description if reason is not None else None,
        )
        ip = event.ip
        source_ip = authlog_ip = None
        if ip is not None:
            if is_ip_address(ip):
                source_ip = ip
            else:
                authlog_ip = ip
        enrichment = event.enrichment
        source = None
        if enrichment is not None:
            source = _enriched_source(source_ip, enrichment)
        elif source_ip is not None:
            source = EcsSource(source_ip)
        user_agent = None
        if event.userAgent is not None or (enrichment is not None and enrichment.userAgent is not None):
            user_agent = _user_agent(event.userAgent, enrichment)
        user_id, email = event.userId, event.email
        related = None  # ECS related: every user identity and address of the event (pivot fields for hunting)
        ips = [source_ip] if source_ip is not None else None
        if user_id is not None:  # both, once each when they are the same text
            related = EcsRelated([user_id] if email is None or email == user_id else [user_id, email], ips)
        elif email is not None:
            related = EcsRelated([email], ips)
        elif ips is not None:
            related = EcsRelated(None, ips)
        tenant, trace = event.tenantId, event.traceId
        return EcsDocument(
            event.time,
            ecs_event,
            description,
            user_fields(event),
            source,
            user_agent,
            related,
            Identified(tenant) if tenant is not None else None,
            Identified(trace) if trace is not None else None,
            self.labels,
            _ECS,
            AuthlogFields(event.action, authlog_ip, reason, event.details, event.schemaVersion),
        )


def to_ecs(
    event: Event,
    kind: EventType | None,
    *,
    dataset: str,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ECS document of ``event`` as plain JSON values: exactly what the ``_bulk`` source line decodes to."""
    return _decode(_encode(EcsMapping(dataset, labels).document(event, kind)))


def _enriched_source(ip: str | None, enrichment: Enrichment) -> EcsSource | None:
    """``source`` with ``geo`` and ``as`` from the enrichment (only what it knows); None when empty."""
    geo = enrichment.geo
    ecs_geo = EcsGeo(*msgspec.structs.astuple(geo)) if geo is not None and geo != _NO_GEO else None
    as_ = enrichment.as_
    ecs_as = None
    if as_ is not None:
        organization = as_.organization
        ecs_as = EcsAs(as_.number, Named(organization) if organization is not None else None)
    if ip is None and ecs_geo is None and ecs_as is None:
        return None
    return EcsSource(ip, ecs_geo, ecs_as)


def _user_agent(original: str | None, enrichment: Enrichment | None) -> EcsUserAgent:
    """ECS ``user_agent``: the original string and what enrichment parsed of it."""
    parsed = enrichment.userAgent if enrichment is not None else None
    if parsed is None:
        return EcsUserAgent(original)
    system = parsed.os
    os_fields = None
    if system is not None and system.name is not None:
        version = system.version
        os_fields = EcsOs(system.name, version, f"{system.name} {version}" if version is not None else None)
    device = parsed.device
    named_device = Named(device.name) if device is not None and device.name is not None else None
    return EcsUserAgent(original, parsed.name, parsed.version, os_fields, named_device)
