"""The LogEntry as msgspec Structs: what :mod:`~adapters.cloud_logging.mapping` builds and msgspec encodes once.

The field order of each Struct is the key order of the JSON (the REST ``LogEntry``'s order as
the mapping has always written it). ``omit_defaults``: a field left at None is left out, as the
mapping leaves out what the event does not have. ``gc=False``: an entry holds strings, the event's
decoded ``details`` and enrichment and pre-encoded bytes, none of which can point back at it, so the
garbage collector need not track the entries a busy cut makes.

The parts fixed per sink or per (type, outcome, tenant) are :class:`msgspec.Raw`, JSON encoded once:
immutable bytes no two entries can change for each other. :func:`~adapters.cloud_logging.mapping.to_log_entry`
gives an event's entry as plain dicts (the Raw parts decoded), for the tests and anyone reading one.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from shippers.enrichment.model import Enrichment
from shippers.event import Event


class HttpRequest(msgspec.Struct, omit_defaults=True, gc=False):
    """``httpRequest``: only the fields the event has."""

    remoteIp: str | None = None
    userAgent: str | None = None


class AuthlogMeta(msgspec.Struct, frozen=True, gc=False):
    """``jsonPayload.authlog``: the archive line's schema version."""

    schema_version: int


# The canonical wire fields, in archive-line order, copied into jsonPayload when present.
PAYLOAD_FIELDS = ("id", "type", "time", "tenantId", "userId", "email", "ip", "userAgent", "reason", "traceId", "details")


def _payload_fields() -> list[tuple[Any, ...]]:
    """Payload's fields: ``message``, PAYLOAD_FIELDS typed as the event types them, then what the catalog adds.

    ``action``, ``outcome``, ``description`` and ``authlog`` are always set; their UNSET default is there only
    because a field after an optional one must have one (UNSET is never encoded).
    """
    event_fields = {f.name: f for f in msgspec.structs.fields(Event)}
    wire = [(name, event_fields[name].type) if event_fields[name].required else (name, event_fields[name].type, None)
            for name in PAYLOAD_FIELDS]  # fmt: skip
    return [
        ("message", str),
        *wire,
        ("action", str | UnsetType, UNSET),
        ("outcome", str | UnsetType, UNSET),
        ("description", str | UnsetType, UNSET),
        ("userName", str | None, None),
        ("enrichment", Enrichment | None, None),
        ("authlog", AuthlogMeta | UnsetType, UNSET),
    ]


# ``jsonPayload``: the message, the canonical wire fields in archive-line order, then what the catalog adds.
# Built with positional arguments, in this order: eighteen keywords cost ~0.5 µs more per entry than the whole
# positional call (msgspec 0.23 matches each keyword by name).
Payload = msgspec.defstruct("Payload", _payload_fields(), omit_defaults=True, gc=False, module=__name__)


class LogEntry(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One ``LogEntry`` of an ``entries.write`` request."""

    logName: str
    resource: msgspec.Raw  # the sink's monitored resource, encoded once
    timestamp: str
    insertId: str
    severity: str
    labels: msgspec.Raw  # encoded once per (type, outcome, tenant): shared.SharedParts
    httpRequest: HttpRequest | None = None
    trace: str | None = None
    jsonPayload: Payload
