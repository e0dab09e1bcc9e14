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

The entry is built as :mod:`~adapters.cloud_logging.entry`'s Structs (:func:`log_entry`) that the
adapter encodes once, straight to bytes (:func:`~adapters.cloud_logging.encoder.encode_entry`).
Everything that does not depend on the event is worked out once from the config
(:class:`EntryTemplate`): logName, the resource already encoded, and per (type, outcome, tenant)
the severity and the labels already encoded. :func:`to_log_entry` is the same entry as plain
dicts; both are pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgspec

from adapters.cloud_logging.config import CATALOG_SEVERITY, RESOURCE_LABELS, CloudLoggingConfig
from adapters.cloud_logging.entry import PAYLOAD_FIELDS, AuthlogMeta, HttpRequest, LogEntry, Payload  # noqa: F401 - PAYLOAD_FIELDS: its tests know it here
from adapters.cloud_logging.shared import SharedParts
from adapters.identity import user_name
from shippers.catalog import Catalog
from shippers.event import SCHEMA_VERSION, Event

# Why: a Cloud Trace trace id is the 32-hex-digit encoding of 16 bytes (W3C's trace-id too); an
# all-zero id is invalid in W3C Trace Context. Anything else in `trace` would link to no trace.
_TRACE_ID_CHARS = 32
_HEX_DIGITS = "0123456789abcdef"
_ZERO_TRACE_ID = "0" * _TRACE_ID_CHARS
_AUTHLOG = AuthlogMeta(SCHEMA_VERSION)  # what ingest stores today; an event of another version gets its own
_json = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class EntryTemplate:
    """The parts of every entry fixed by the sink's config and catalog (and, remembered, by type, outcome and tenant)."""

    project: str
    log_name: str  # the full projects/<p>/logs/<id>
    resource: dict[str, Any]
    labels: dict[str, str]
    severities: dict[str, str]  # event type -> LogSeverity name
    # Derived from the fields above, so no part of repr or equality: `shared` remembers producers' tenant ids,
    # which a logged template must not quote, and what a template has mapped does not make it another one.
    resource_json: msgspec.Raw = field(init=False, repr=False, compare=False)  # `resource` encoded: every entry's
    trace_prefix: str = field(init=False, repr=False, compare=False)  # projects/<p>/traces/
    shared: SharedParts = field(init=False, repr=False, compare=False)  # severity and labels encoded, by (type, outcome, tenant)

    def __post_init__(self) -> None:
        object.__setattr__(self, "resource_json", msgspec.Raw(_json.encode(self.resource)))
        object.__setattr__(self, "trace_prefix", f"projects/{self.project}/traces/")
        object.__setattr__(self, "shared", SharedParts(self.labels, self.severities))

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


def log_entry(event: Event, template: EntryTemplate) -> LogEntry:
    """The LogEntry for one event, as Structs msgspec encodes in one call; pure (same event and template, same bytes)."""
    severity, labels = template.shared.get((event.type, event.outcome, event.tenantId)) or template.shared.add(event)
    ip, agent, trace_id = event.ip, event.userAgent, event.traceId
    trace = valid_trace_id(trace_id) if trace_id is not None else None
    version = event.schemaVersion
    return LogEntry(
        logName=template.log_name,
        resource=template.resource_json,
        timestamp=event.time,
        insertId=event.id,
        severity=severity,
        labels=labels,
        httpRequest=None if ip is None and agent is None else HttpRequest(ip, agent),
        trace=None if trace is None else template.trace_prefix + trace,
        jsonPayload=Payload(  # positionally: message, PAYLOAD_FIELDS, the catalog's (entry.Payload says why)
            event.description,  # message
            event.id,
            event.type,
            event.time,
            event.tenantId,
            event.userId,
            event.email,
            ip,
            agent,
            event.reason,
            trace_id,
            event.details,
            event.action,
            event.outcome,
            event.description,
            user_name(event),
            event.enrichment,
            _AUTHLOG if version == SCHEMA_VERSION else AuthlogMeta(version),
        ),
    )


def to_log_entry(event: Event, template: EntryTemplate) -> dict[str, Any]:
    """The LogEntry for one event as plain dicts (:func:`log_entry`, its pre-encoded parts decoded); pure, fresh each call."""
    return msgspec.to_builtins(log_entry(event, template), enc_hook=_decoded)


def _decoded(value: Any) -> Any:
    """A pre-encoded part (msgspec.Raw) as the dicts it encodes; to_builtins asks for nothing else."""
    if isinstance(value, msgspec.Raw):
        return msgspec.json.decode(value)
    raise TypeError(f"unexpected {type(value).__name__} in a LogEntry")


def valid_trace_id(trace_id: str) -> str | None:
    """``trace_id`` in lower case when it is a valid Cloud Trace id, else None."""
    # 32 characters, none left once the hex digits are stripped: a fullmatch of [0-9a-f]{32} without the regex
    # engine (a third of the cost, once per event); a trailing newline is no hex digit, so it never passes.
    # The length first and lower() only when needed: no character lowers to fewer characters, and none but A-F
    # lowers to a hex digit (every code point checked), so neither changes the answer.
    if len(trace_id) != _TRACE_ID_CHARS:
        return None
    if trace_id.strip(_HEX_DIGITS):
        trace_id = trace_id.lower()
        if trace_id.strip(_HEX_DIGITS):
            return None
    return trace_id if trace_id != _ZERO_TRACE_ID else None
