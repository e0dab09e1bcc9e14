"""The mapping: one canonical :class:`~shippers.event.Event` -> one Cloud Logging ``LogEntry`` (REST JSON).

::

    logName      projects/<project>/logs/<url-encoded log_name>
    resource     the configured monitored resource (default {"type": "global"}), project_id filled in
    timestamp    event.time (RFC 3339, UTC)
    insertId     event.id                       -> Cloud Logging deduplicates resends at query time
    severity     catalog severity (INFO success / WARNING failure), or severity_by_type
    labels       event_type, outcome, tenant_id (when present) + the sink's configured labels
    httpRequest  remoteIp <- ip, userAgent <- userAgent (only the fields present)
    trace        projects/<project>/traces/<traceId> (only when traceId is a valid trace id:
                 32 hex digits, not all zero; any traceId stays in jsonPayload.traceId)
    jsonPayload  message (the description) + the canonical fields + action, outcome, description,
                 userName (the email, else the user id: a stable identity for failures that carry
                 only an email), enrichment (geo, as, userAgent: the archive line's names, stable),
                 authlog.schema_version

Everything that does not depend on the event is worked out once from the config
(:class:`EntryTemplate`); :func:`to_log_entry` is pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgspec

from adapters.cloud_logging.config import (
    CATALOG_SEVERITY,
    OUTCOME_SEVERITY,
    RESOURCE_LABELS,
    CloudLoggingConfig,
)
from adapters.identity import user_name
from shippers.catalog import Catalog
from shippers.event import Event

# The canonical wire fields, in archive-line order, copied into jsonPayload when present.
PAYLOAD_FIELDS = ("id", "type", "time", "tenantId", "userId", "email", "ip", "userAgent", "reason", "traceId", "details")
# Why: a Cloud Trace trace id is the 32-hex-digit encoding of 16 bytes (W3C's trace-id too); an
# all-zero id is invalid in W3C Trace Context. Anything else in `trace` would link to no trace.
_TRACE_ID_CHARS = 32
_HEX_DIGITS = "0123456789abcdef"
_ZERO_TRACE_ID = "0" * _TRACE_ID_CHARS


@dataclass(frozen=True, slots=True)
class EntryTemplate:
    """The parts of every entry fixed by the sink's config and catalog."""

    project: str
    log_name: str  # the full projects/<p>/logs/<id>
    resource: dict[str, Any]
    labels: dict[str, str]
    severities: dict[str, str]  # event type -> LogSeverity name

    @classmethod
    def build(cls, config: CloudLoggingConfig, catalog: Catalog) -> EntryTemplate:
        resource_labels = dict(config.resource.labels)
        if "project_id" in RESOURCE_LABELS.get(config.resource.type, ()):
            resource_labels.setdefault("project_id", config.project)
        resource: dict[str, Any] = {"type": config.resource.type}
        if resource_labels:
            resource["labels"] = resource_labels
        severities: dict[str, str] = {kind.name: CATALOG_SEVERITY[kind.severity] for kind in catalog}
        severities.update(config.severity_by_type)
        return cls(
            project=config.project,
            log_name=log_name(config.project, config.log_name),
            resource=resource,
            labels=dict(config.labels),
            severities=severities,
        )


def log_name(project: str, log_id: str) -> str:
    """``projects/<project>/logs/<log_id>`` with the id URL-encoded (``/`` becomes ``%2F``)."""
    return f"projects/{project}/logs/{quote(log_id, safe='')}"


def _resource(template: EntryTemplate) -> dict[str, Any]:
    """A fresh copy per entry, so no two documents share a mutable part."""
    labels = template.resource.get("labels")
    if labels is None:
        return {"type": template.resource["type"]}
    return {"type": template.resource["type"], "labels": dict(labels)}


def to_log_entry(event: Event, template: EntryTemplate) -> dict[str, Any]:
    """The LogEntry for one event; pure (same event and template, same dict)."""
    labels = {**template.labels, "event_type": event.type, "outcome": event.outcome}
    if event.tenantId is not None:
        labels["tenant_id"] = event.tenantId

    entry: dict[str, Any] = {
        "logName": template.log_name,
        "resource": _resource(template),
        "timestamp": event.time,
        "insertId": event.id,
        "severity": template.severities.get(event.type) or OUTCOME_SEVERITY[event.outcome],
        "labels": labels,
    }
    http_request = {}
    if event.ip is not None:
        http_request["remoteIp"] = event.ip
    if event.userAgent is not None:
        http_request["userAgent"] = event.userAgent
    if http_request:
        entry["httpRequest"] = http_request
    trace = valid_trace_id(event.traceId) if event.traceId is not None else None
    if trace is not None:
        entry["trace"] = f"projects/{template.project}/traces/{trace}"

    payload: dict[str, Any] = {"message": event.description}
    for name in PAYLOAD_FIELDS:
        value = getattr(event, name)
        if value is not None:
            payload[name] = value
    payload["action"] = event.action
    payload["outcome"] = event.outcome
    payload["description"] = event.description
    name = user_name(event)
    if name is not None:
        payload["userName"] = name
    if event.enrichment is not None:
        payload["enrichment"] = msgspec.to_builtins(event.enrichment)
    payload["authlog"] = {"schema_version": event.schemaVersion}
    entry["jsonPayload"] = payload
    return entry


def valid_trace_id(trace_id: str) -> str | None:
    """``trace_id`` in lower case when it is a valid Cloud Trace id, else None."""
    lowered = trace_id.lower()
    # 32 characters, none left once the hex digits are stripped: a fullmatch of [0-9a-f]{32} without the regex
    # engine (a third of the cost, once per event); a trailing newline is no hex digit, so it never passes.
    return lowered if len(lowered) == _TRACE_ID_CHARS and not lowered.strip(_HEX_DIGITS) and lowered != _ZERO_TRACE_ID else None
