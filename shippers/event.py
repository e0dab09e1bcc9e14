"""The canonical event: decode the wire format, validate it against the catalog, enrich it once.

A producer sends (DESIGN.md, "Canonical event")::

    {"id", "type", "time", "tenantId", "userId", "email", "ip", "userAgent",
     "reason", "traceId", "details"}

Only ``type`` is required. :class:`EventValidator` turns one JSON document into an
:class:`Event`: the same fields, normalised (``id`` assigned, ``time`` in UTC), plus the
catalog's ``action``, ``outcome`` and ``description`` and ``schemaVersion``. That struct,
encoded, *is* the archive line the file and S3 sinks write, and the record the durable
buffer stores, so enrichment happens here and nowhere else.

Every problem raises :class:`shippers.errors.ValidationError` naming the field and
saying what to do; nothing else escapes (a hypothesis test holds us to that).
"""

from __future__ import annotations

import re
import socket
import time as _time
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import uuid_utils

from shippers.catalog import Catalog
from shippers.errors import ValidationError

SCHEMA_VERSION = 1
# Why: ids become Elasticsearch _ids (512-byte cap) and S3/Cloud Logging keys; 128 is
# ample for a UUID, a ULID or a producer's own prefix + UUID.
MAX_ID_CHARS = 128
# Why: RFC 5321 caps a forward path at 256 octets including the angle brackets.
MAX_EMAIL_CHARS = 254
# Why: a real User-Agent header rarely passes 500 chars; 2 KiB keeps odd but real ones.
MAX_USER_AGENT_CHARS = 2048
# Why: every other string field is an identifier; 1 KiB stops a producer bug from
# filling the buffer while leaving room for long opaque ids.
MAX_STRING_CHARS = 1024
# Why: details is free-form context, not a payload: 16 KiB keeps every event far below
# the smallest per-item destination limit (Cloud Logging's 256 KiB).
MAX_DETAILS_BYTES = 16 * 1024
# Why: deep nesting is a sign of a serialised object graph; 8 levels is plenty for context
# and keeps mappings (and Elasticsearch's dynamic mapping) shallow.
MAX_DETAILS_DEPTH = 8
# Why: clock skew between hosts is seconds, not days; a day ahead means a bug, and
# destinations reject such entries (Cloud Logging refuses > 1 day in the future).
MAX_FUTURE_SECONDS = 24 * 3600

# Why: a pragmatic shape check (one @, no spaces, a dot in the domain); full RFC 5322
# parsing would accept addresses no IdP issues and reject none we care about.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FIELD_IN_PATH = re.compile(r"`\$\.(\w+)")
# What format_time() writes for millisecond precision: a timestamp already in it is kept as sent.
_CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_LENGTH = re.compile(r"of length ([<>])= (\d+)")


def _text(limit: int) -> Any:
    """A string of 1..limit characters, checked by msgspec while decoding (no Python on the hot path)."""
    return Annotated[str, msgspec.Meta(min_length=1, max_length=limit)]


class WireEvent(msgspec.Struct, forbid_unknown_fields=True):
    """The wire format exactly as producers send it; unknown top-level fields are errors."""

    type: _text(MAX_STRING_CHARS) | None = None  # type: ignore[valid-type]
    id: _text(MAX_ID_CHARS) | None = None  # type: ignore[valid-type]
    # Why 64: the longest RFC 3339 timestamp (nanoseconds and an offset) is 35 characters.
    time: _text(64) | None = None  # type: ignore[valid-type]
    tenantId: _text(MAX_STRING_CHARS) | None = None  # type: ignore[valid-type]
    userId: _text(MAX_STRING_CHARS) | None = None  # type: ignore[valid-type]
    email: _text(MAX_EMAIL_CHARS) | None = None  # type: ignore[valid-type]
    # Why 45: the longest textual IPv6 address (IPv4-mapped, full form).
    ip: _text(45) | None = None  # type: ignore[valid-type]
    userAgent: _text(MAX_USER_AGENT_CHARS) | None = None  # type: ignore[valid-type]
    reason: _text(MAX_STRING_CHARS) | None = None  # type: ignore[valid-type]
    traceId: _text(MAX_STRING_CHARS) | None = None  # type: ignore[valid-type]
    # Raw: the size cap is checked on the encoded bytes before anything is parsed.
    details: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A validated, enriched event; encoded with msgspec it is the archive line (keys in this order)."""

    id: str
    type: str
    time: str
    tenantId: str | None = None
    userId: str | None = None
    email: str | None = None
    ip: str | None = None
    userAgent: str | None = None
    reason: str | None = None
    traceId: str | None = None
    details: dict[str, Any] | None = None
    action: str
    outcome: str
    description: str
    schemaVersion: int

    @property
    def timestamp(self) -> datetime:
        """The event time as an aware UTC datetime."""
        return datetime.fromisoformat(self.time)

    @property
    def epoch_ms(self) -> int:
        return int(self.timestamp.timestamp() * 1000)


_wire_decoder = msgspec.json.Decoder(WireEvent)
_any_decoder = msgspec.json.Decoder()
_event_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()

WIRE_FIELDS = tuple(f for f in WireEvent.__struct_fields__)


def encode_event(event: Event) -> bytes:
    """The archive line of an event (no trailing newline)."""
    return _encoder.encode(event)


def decode_event(line: bytes) -> Event:
    """Read back an archive line / stored record written by :func:`encode_event`."""
    return _event_decoder.decode(line)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: milliseconds, or microseconds when they carry information."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _translate_msgspec_error(exc: msgspec.ValidationError) -> ValidationError:
    text = str(exc)
    if text.startswith("Object contains unknown field"):
        name = text.split("`")[1]
        return ValidationError(
            name, f"unknown field '{name}'; allowed fields are {', '.join(WIRE_FIELDS)} (put extra context in 'details')"
        )
    match = _FIELD_IN_PATH.search(text)
    length = _LENGTH.search(text)
    if match and length:
        field = match.group(1)
        if length.group(1) == ">":
            return ValidationError(field, "is empty; leave the field out instead")
        return ValidationError(field, f"is longer than the limit of {length.group(2)} characters")
    if match:
        field = match.group(1)
        kind = "a JSON object" if field == "details" else "a string"
        return ValidationError(field, f"must be {kind} ({text.split(' - ')[0]})")
    if text.startswith("Expected `object`"):
        return ValidationError("", f"an event must be a JSON object ({text})")
    return ValidationError("", text)


def _normalise_ip(value: str) -> str:
    """The canonical text of an IPv4/IPv6 address (inet_pton: strict, and fast on the hot path)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, value))
        except (OSError, ValueError):
            continue
    raise ValidationError("ip", f"'{value[:64]}' is not an IPv4 or IPv6 address")


def _depth(value: Any, level: int) -> int:
    """Nesting depth of a JSON value, counting stops one past the limit."""
    if level > MAX_DETAILS_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level - 1


class EventValidator:
    """Turns wire documents into :class:`Event` s for one catalog and one clock."""

    def __init__(self, catalog: Catalog, clock: Any = _time.time) -> None:
        self.catalog = catalog
        self.clock = clock

    def decode(self, document: bytes | str, now: float | None = None) -> Event:
        """Validate one JSON document (bytes of a single event object)."""
        try:
            wire = _wire_decoder.decode(document)
        except msgspec.ValidationError as exc:
            raise _translate_msgspec_error(exc) from None
        except msgspec.DecodeError as exc:
            raise ValidationError("", f"not valid JSON ({exc})") from None
        return self.validate(wire, self.clock() if now is None else now)

    def from_fields(self, fields: dict[str, Any], now: float | None = None) -> Event:
        """Validate an event given as Python keyword fields (``shippers.emit``)."""
        try:
            document = _encoder.encode(fields)
        except (TypeError, msgspec.EncodeError) as exc:
            raise ValidationError("", f"fields must be JSON-serialisable ({exc})") from None
        return self.decode(document, now)

    def validate(self, wire: WireEvent, now: float) -> Event:
        if wire.type is None:
            raise ValidationError("type", "required; name the event type, e.g. 'login.completed' (see `authlog catalog`)")
        kind = self.catalog.get(wire.type)
        if kind is None:
            hint = self.catalog.closest(wire.type)
            suggestion = f"; did you mean '{hint}'?" if hint else "; `authlog catalog` lists the known types"
            raise ValidationError("type", f"unknown event type '{wire.type}'{suggestion}")
        if wire.reason is not None and wire.reason not in kind.reasons:
            allowed = ", ".join(f"'{r}'" for r in kind.reasons)
            where = f"one of {allowed}" if allowed else "left out: this type has no reasons"
            raise ValidationError("reason", f"'{wire.reason}' is not a reason of {kind.name}; it must be {where}")

        event_id = wire.id
        if event_id is None:
            event_id = str(uuid_utils.uuid7())
        elif _CONTROL.search(event_id):
            raise ValidationError("id", "contains control characters")

        when = self._time(wire.time, now)

        email = wire.email
        if email is not None and not _EMAIL.match(email):
            raise ValidationError("email", f"'{email[:64]}' is not shaped like an email address (name@domain.tld)")

        ip = wire.ip
        if ip is not None:
            ip = _normalise_ip(ip)

        details = self._details(wire.details)

        return Event(
            id=event_id,
            type=kind.name,
            time=when,
            tenantId=wire.tenantId,
            userId=wire.userId,
            email=email,
            ip=ip,
            userAgent=wire.userAgent,
            reason=wire.reason,
            traceId=wire.traceId,
            details=details,
            action=kind.action,
            outcome=kind.outcome,
            description=kind.describe(wire.reason),
            schemaVersion=SCHEMA_VERSION,
        )

    @staticmethod
    def _time(value: str | None, now: float) -> str:
        if value is None:
            return format_time(datetime.fromtimestamp(now, UTC))
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                "time", f"'{value}' is not an RFC 3339 timestamp; send e.g. '2026-11-25T19:34:33.123Z'"
            ) from None
        if moment.tzinfo is None or "T" not in value.upper() and " " not in value:
            raise ValidationError("time", f"'{value}' has no UTC offset; add 'Z' or '+HH:MM'")
        if moment.timestamp() - now > MAX_FUTURE_SECONDS:
            raise ValidationError("time", f"'{value}' is more than 24 h in the future; check the producer's clock")
        return value if _CANONICAL_TIME.match(value) else format_time(moment)

    @staticmethod
    def _details(raw: msgspec.Raw | msgspec.UnsetType) -> dict[str, Any] | None:
        if raw is msgspec.UNSET:
            return None
        if len(raw) > MAX_DETAILS_BYTES:
            raise ValidationError("details", f"is {len(raw)} bytes encoded; the limit is {MAX_DETAILS_BYTES}")
        value = _any_decoder.decode(raw)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValidationError("details", "must be a JSON object")
        if _depth(value, 1) > MAX_DETAILS_DEPTH:
            raise ValidationError("details", f"is nested more than {MAX_DETAILS_DEPTH} levels deep; flatten it")
        return value
