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
    ip / userAgent       source.ip / user_agent.original
    tenantId             organization.id
    traceId              trace.id
    details              authlog.details                namespaced, so it can never clash with ECS
    catalog action text  authlog.action
    schemaVersion        authlog.schema_version
    (constant)           event.kind = "event", event.dataset (config), ecs.version, labels (config)

Documents are nested objects (``{"user": {"id": ...}}``), never dotted keys, and absent
fields are left out rather than written as null. If a PII policy has hashed or masked the
IP into something that is no longer an address, it goes to ``authlog.ip`` (a keyword)
instead of ``source.ip`` (an ``ip`` field that would reject it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shippers.catalog import DEFAULT_ECS, EventType
from shippers.event import Event, is_ip_address

# Why: the ECS release whose field facts we checked the mapping against
# (elastic/ecs@b85f7573, tests/data/elasticsearch/ecs_facts.json).
ECS_VERSION = "9.5.0-dev"
# Why: ECS event.kind for a plain occurrence (not an alert, metric or state).
EVENT_KIND = "event"


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
        "dataset": dataset,
    }
    reason = event.reason
    if reason is not None:
        ecs_event["reason"] = event.description
    doc: dict[str, Any] = {"@timestamp": event.time, "event": ecs_event, "message": event.description}

    user_id, email = event.userId, event.email
    if user_id is not None:
        doc["user"] = {"id": user_id, "email": email} if email is not None else {"id": user_id}
    elif email is not None:
        doc["user"] = {"email": email}
    authlog: dict[str, Any] = {"action": event.action}
    ip = event.ip
    if ip is not None:
        if is_ip_address(ip):
            doc["source"] = {"ip": ip}
        else:
            authlog["ip"] = ip
    if event.userAgent is not None:
        doc["user_agent"] = {"original": event.userAgent}
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
