"""One archive line -> the event to queue again, validated anew (pure over the validator and enricher given).

An archive line is an encoded :class:`~shippers.event.Event` (``shippers.event.encode_event``) of a
``schemaVersion`` we wrote, perhaps carrying the optional ``enrichment`` and ``pii`` objects. Replay
validates it again as a producer's event would be, with two differences:

- a field its ``pii`` object names was transformed by the writing sink's policy: a hashed value is
  checked as a hash (``hmac-sha256:<64 hex>``), a masked one as a mask, a dropped one is absent; the
  value is kept as it is (never transformed twice) and the object rides along, so the target sink's
  view (:meth:`shippers.pii.SinkPii.view`) knows what it already carries;
- the archived ``enrichment`` is kept (the location at the time of the event); a line without one is
  enriched when ``[enrich]`` is on, from the fields the archive kept raw only.

The catalog's ``action``, ``outcome`` and ``description`` are worked out again from the current
catalog, as ingest would. A line that fails is a :class:`LineProblem` (its message may quote the line:
it is for the person running the replay, never for a log or a metric).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from shippers.enrichment.model import Enrichment
from shippers.errors import ValidationError
from shippers.event import MAX_DETAILS_DEPTH, Event, EventValidator, is_ip_address
from shippers.pii import FIELDS, MASK, format_tag, mask_ip

# Every schemaVersion an archive line was ever written with (shippers.event.SCHEMA_VERSION's history).
KNOWN_SCHEMA_VERSIONS = frozenset({1})
# The keys the catalog and ingest derive: recomputed (catalog) or carried over (enrichment, pii), never sent as wire fields.
DERIVED_KEYS = ("action", "outcome", "description", "schemaVersion", "enrichment", "pii")
# What the policies of shippers.pii write, per treatment: a value is valid as such when it has this shape.
_HASHED = re.compile(r"hmac-sha256:[0-9a-f]{64}")
_MASKED_EMAIL = re.compile(r"[^@]?\*\*\*@[^@\s]+")
# Why: the s3 and file sinks write at most 1 MiB per line (their max_item_bytes; ingest caps events far below
# it): a longer line is no archive line, and decoding it would cost many times its size in Python objects.
MAX_LINE_BYTES = 1024 * 1024
# OCSF lines (S3 format = "ocsf") carry these and no schemaVersion: the prefix is not an archive.
OCSF_MARKERS = ("class_uid", "metadata")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

Enricher = Callable[[str | None, str | None], Enrichment | None]


class LineProblem(msgspec.Struct, frozen=True):
    """Why one line was skipped: shown with the object's key and the line number."""

    message: str


class NotAnArchive(Exception):
    """The object holds OCSF (or other) lines, not archive lines: the whole replay stops with a clear error."""


def _treated_ok(field: str, action: str, value: Any) -> str | None:
    """Why ``value`` is not what ``action`` writes for ``field``, or None when it is."""
    if action == "drop":
        return None if value is None else f"{field}: the line says it was dropped, yet it holds a value"
    if value is None:
        return None  # a field the event never had is transformed into nothing
    if not isinstance(value, str):
        return f"{field}: must be a string"
    if action == "hash":
        return None if _HASHED.fullmatch(value) else f"{field}: the line says it was hashed, but it is not an hmac-sha256 hash"
    if action == "mask":
        ok = {"email": lambda v: _MASKED_EMAIL.fullmatch(v) is not None, "ip": _is_masked_ip, "userAgent": lambda v: v == MASK}[field](value)
        return None if ok else f"{field}: the line says it was masked, but it does not look masked"
    return f"pii.{field}: unknown treatment {action!r} (hash, mask or drop)"


def _is_masked_ip(value: str) -> bool:
    """A masked address is its own mask (the /24 or /48 network): any other address is raw, whatever the line says."""
    return is_ip_address(value) and mask_ip(value) == value


def _pii_object(raw: Any) -> dict[str, str] | LineProblem:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        return LineProblem("pii: must be an object of field -> treatment")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        return LineProblem(f"pii: names fields no policy transforms: {', '.join(unknown)}")
    return dict(raw)


class LineReader:
    """Archive lines -> events (see the module docstring); one per replay."""

    def __init__(self, validator: EventValidator, enricher: Enricher | None, clock: Callable[[], float]) -> None:
        # The validator must not enrich: the archived enrichment wins, and the missing one is derived here.
        self.validator = EventValidator(validator.catalog, clock, None)
        self.enricher = enricher
        self.clock = clock

    def read(self, line: bytes) -> Event | LineProblem:
        if len(line) > MAX_LINE_BYTES:
            return LineProblem(f"{len(line):,} bytes long; the sinks write at most {MAX_LINE_BYTES // (1024 * 1024)} MiB per line")
        try:
            document = _decoder.decode(line)
        except msgspec.DecodeError as exc:
            return LineProblem(f"not valid JSON ({exc})")
        except RecursionError:  # msgspec's answer to JSON nested past its depth limit
            return LineProblem(f"nested too deeply to read (no event is: 'details' may be {MAX_DETAILS_DEPTH} levels deep)")
        if not isinstance(document, dict):
            return LineProblem("not a JSON object")
        if "schemaVersion" not in document and all(marker in document for marker in OCSF_MARKERS):
            raise NotAnArchive("it holds OCSF lines (an s3 sink with format = \"ocsf\"), not archive lines")
        version = document.get("schemaVersion")
        if version not in KNOWN_SCHEMA_VERSIONS:
            known = ", ".join(map(str, sorted(KNOWN_SCHEMA_VERSIONS)))
            return LineProblem(f"schemaVersion {version!r} is not one this version reads ({known}); upgrade authlog")
        if not isinstance(document.get("id"), str):
            return LineProblem("id: every archive line has one (a replay must not make up a new id: it would be a new event)")
        pii = _pii_object(document.get("pii"))
        if isinstance(pii, LineProblem):
            return pii
        enrichment = document.get("enrichment")
        wire = {k: v for k, v in document.items() if k not in DERIVED_KEYS}
        treated: dict[str, Any] = {}
        for field, action in pii.items():
            value = wire.pop(field, None)
            problem = _treated_ok(field, action, value)
            if problem is not None:
                return LineProblem(problem)
            if value is not None:
                treated[field] = value
        try:
            event = self.validator.decode(_encoder.encode(wire), self.clock())
        except ValidationError as exc:
            return LineProblem(str(exc))
        changes: dict[str, Any] = dict(treated)
        if pii:
            changes["pii"] = {field: pii[field] for field in FIELDS if field in pii}
        if enrichment is not None:
            try:
                changes["enrichment"] = msgspec.convert(enrichment, Enrichment)
            except msgspec.ValidationError as exc:
                return LineProblem(f"enrichment: {exc}")
        elif self.enricher is not None:
            raw_ip = None if "ip" in pii else event.ip
            raw_agent = None if "userAgent" in pii else event.userAgent
            changes["enrichment"] = self.enricher(raw_ip, raw_agent)
        return msgspec.structs.replace(event, **changes) if changes else event


def pii_tag(event: Event) -> str | None:
    """The ``shippers.pii`` tag of what an archived event carries (a field its object does not name is raw), or None."""
    if not event.pii:
        return None
    return format_tag({field: event.pii.get(field, "keep") for field in FIELDS})
