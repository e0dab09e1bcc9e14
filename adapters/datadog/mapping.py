"""Canonical event -> Datadog log, speaking Datadog's standard attributes (what Cloud SIEM rules read).

One pure function, :func:`to_datadog_log` (and :class:`DatadogMapping`, the same for one sink,
with what each event type's logs share worked out once). The log it returns, for a
``magic_link.failed`` event::

    {"message": "<catalog description>", "ddsource": "authlog", "service": "authlog",
     "hostname": "web-1", "ddtags": "env:prod,tenant_id:t-42,event_type:magic_link.failed,outcome:failure",
     "status": "warn", "timestamp": 1795635273123,
     "evt": {"name": "magic_link.failed", "outcome": "failure", "category": "authentication", "id": "0193..."},
     "usr": {"id": "u-7", "email": "ana@example.com", "name": "ana@example.com"},
     "network": {"client": {"ip": "203.0.113.7", "geoip": {"country": {"iso_code": "DE", "name": "Germany"}, ...}}},
     "http": {"useragent": "Mozilla/5.0 ...", "useragent_details": {"browser": {"family": "Chrome"}, ...}},
     "trace_id": "4bf92f35...", "dd": {"trace_id": "11803532876627986230"},
     "authlog": {"reason": "expired", "tenant_id": "t-42", "schema_version": 1, "details": {...}}}

- Nested objects, never dotted keys: Datadog reads ``{"usr": {"id": ...}}`` as ``usr.id``.
- ``status`` follows the catalog severity (``warning`` -> ``warn``), overridable per type.
- ``evt.outcome`` and ``status`` come from the catalog, never from text.
- Attributes whose canonical field is absent are left out (``login.invalid_email`` has no user id).
- Free-form ``details`` stay under ``authlog.details`` so they can never shadow a standard attribute.
- ``usr.name`` is the email, else the user id: a stable identity even for failures that carry only
  an email (``login.invalid_email``), so Cloud SIEM's distinct-user counts work.
- The enrichment lands where Datadog's own GeoIP and user-agent parsers write
  (``network.client.geoip.*``, ``http.useragent_details.*``), which its "multiple countries" and
  credential-stuffing rules read; the autonomous system, having no standard attribute, is ``authlog.as``.
- ``trace_id`` only holds a valid trace id (else it is ``authlog.trace_id``); ``dd.trace_id`` holds it in
  the form Datadog correlates logs with traces by: its lower 64 bits as an unsigned decimal (what
  Datadog's docs tell OpenTelemetry users to write; its own 128-bit ids keep their randomness there).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from msgspec import to_builtins as msgspec_builtins

from adapters.identity import user_fields
from shippers.catalog import Catalog, EventType
from shippers.enrichment.model import Enrichment
from shippers.event import Event

# Why: catalog severities -> the status names Datadog's status remapper understands.
STATUS_BY_SEVERITY = {"info": "info", "notice": "notice", "warning": "warn", "error": "error", "critical": "critical"}
# Why: Cloud SIEM's authentication guide uses evt.category "authentication"; account changes are "iam"
# (the ECS category each catalog type states). Anything else falls back to the catalog's default.
EVT_CATEGORIES = ("authentication", "iam")
# Why: Datadog tags keep letters, digits, "_", "-", ":", ".", "/" and turn the rest into "_";
# a comma would even split the tag. We do the same up front so the tag says what Datadog will show.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_\-:./]")
# Why: Datadog's documented tag length limit.
MAX_TAG_CHARS = 200
# Why: a W3C trace id is 32 lower-case hex digits, a 64-bit one 16; Datadog's own ids are decimal
# up to 2**64 - 1 (20 digits). All-zero ids are invalid in W3C Trace Context.
_HEX_TRACE_ID_CHARS = (32, 16)
_HEX_DIGITS = "0123456789abcdef"
_DECIMAL_TRACE_ID = re.compile(r"^[0-9]{1,20}$")
_LOW_64_BITS = (1 << 64) - 1
# Why: tags repeat (a few types, outcomes and tenants); 4096 remembered values cover a large
# multi-tenant sidecar, under a megabyte with short tenant ids (~4 MB at worst: 1 KB ids, measured with
# tracemalloc); beyond that a tag is simply worked out again.
TAG_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class MappingSettings:
    """What the mapping needs from the sink's config, resolved once (host name included)."""

    service: str
    source: str
    hostname: str
    env: str | None = None
    tags: tuple[str, ...] = ()
    status_by_type: Mapping[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=TAG_CACHE_SIZE)
def tag(key: str, value: str) -> str:
    """One ``key:value`` tag, with characters Datadog would rewrite already replaced by ``_``."""
    return _TAG_UNSAFE.sub("_", f"{key}:{value}")[:MAX_TAG_CHARS]


def evt_category(kind: EventType) -> str:
    """``authentication`` or ``iam``, from the catalog's ECS category."""
    for category in kind.ecs_category:
        if category in EVT_CATEGORIES:
            return category
    return EVT_CATEGORIES[0]


def status_of(kind: EventType, settings: MappingSettings) -> str:
    """The Datadog ``status``: the per-type override, else the catalog severity."""
    return settings.status_by_type.get(kind.name) or STATUS_BY_SEVERITY[kind.severity]


@dataclass(frozen=True, slots=True)
class TypeFacts:
    """What every log of one event type and outcome shares, worked out once (:class:`DatadogMapping`)."""

    status: str
    category: str
    tags_before_tenant: str  # "env:<env>" or ""
    tags_after_tenant: str  # "event_type:<type>,outcome:<outcome>" and the sink's own tags


def type_facts(kind: EventType, event: Event, settings: MappingSettings) -> TypeFacts:
    """The parts ``event``'s log shares with every log of its type and outcome (``kind``: its catalog type)."""
    return TypeFacts(
        status=status_of(kind, settings),
        category=evt_category(kind),
        tags_before_tenant=tag("env", settings.env) if settings.env else "",
        tags_after_tenant=",".join([tag("event_type", event.type), tag("outcome", event.outcome), *settings.tags]),
    )


def to_datadog_log(event: Event, kind: EventType, settings: MappingSettings) -> dict[str, Any]:
    """The Datadog log for one canonical event of catalog type ``kind`` (pure, deterministic)."""
    facts = type_facts(kind, event, settings)
    return _log(event, facts, settings, ddtags(facts, event.tenantId), event.epoch_ms)


def ddtags(facts: TypeFacts, tenant: str | None) -> str:
    """The ``ddtags`` of a log of these facts and tenant: env, tenant_id, event_type, outcome, the sink's own."""
    tags = facts.tags_after_tenant
    if tenant is not None:
        tags = f"{tag('tenant_id', tenant)},{tags}"
    if facts.tags_before_tenant:
        tags = f"{facts.tags_before_tenant},{tags}"
    return tags


class DatadogMapping:
    """:func:`to_datadog_log` for one sink, with what each type, outcome and tenant share worked out once."""

    def __init__(self, settings: MappingSettings, catalog: Catalog) -> None:
        self.settings = settings
        self._catalog = catalog
        # Keyed by (type, outcome, tenant): the outcome is the stored event's, which a later catalog could differ
        # from. Bounded like the tag cache (a tenant id per event would otherwise grow it without end).
        self._shared: dict[tuple[str, str, str | None], tuple[TypeFacts, str]] = {}
        # The last event's epoch_ms: the cut maps an event, then checks its window (check_item) at once.
        self._last_epoch: tuple[Event | None, int] = (None, 0)

    def log(self, event: Event) -> dict[str, Any]:
        key = (event.type, event.outcome, event.tenantId)
        shared = self._shared.get(key)
        if shared is None:
            facts = type_facts(self._catalog[event.type], event, self.settings)
            if len(self._shared) >= TAG_CACHE_SIZE:
                self._shared.clear()
            shared = self._shared[key] = (facts, ddtags(facts, event.tenantId))
        return _log(event, shared[0], self.settings, shared[1], self.epoch_ms(event))

    def epoch_ms(self, event: Event) -> int:
        """``event.epoch_ms``, the time parsed once when asked again for the same event right after."""
        last, epoch_ms = self._last_epoch  # one tuple, replaced whole: threads see a pair that belongs together
        if last is not event:
            epoch_ms = event.epoch_ms
            self._last_epoch = (event, epoch_ms)
        return epoch_ms


def _log(event: Event, facts: TypeFacts, settings: MappingSettings, tags: str, epoch_ms: int) -> dict[str, Any]:
    log: dict[str, Any] = {
        "message": event.description,
        "ddsource": settings.source,
        "service": settings.service,
        "hostname": settings.hostname,
        "ddtags": tags,
        "status": facts.status,
        "timestamp": epoch_ms,
        "evt": {"name": event.type, "outcome": event.outcome, "category": facts.category, "id": event.id},
    }
    usr = user_fields(event)
    if usr is not None:
        log["usr"] = usr
    # The known parts (neither None nor empty), in this order; written out (no helper): once per event.
    enrichment = event.enrichment
    client: dict[str, Any] = {}
    if event.ip:
        client["ip"] = event.ip
    http: dict[str, Any] = {}
    if event.userAgent:
        http["useragent"] = event.userAgent
    if enrichment is not None:
        geoip = _geoip(enrichment)
        if geoip:
            client["geoip"] = geoip
        details = _useragent_details(enrichment)
        if details:
            http["useragent_details"] = details
    if client:
        log["network"] = {"client": client}
    if http:
        log["http"] = http
    own: dict[str, Any] = {}
    trace = event.traceId
    if trace is not None:
        correlated = datadog_trace_id(trace)
        if correlated is None:
            own["trace_id"] = trace
        else:
            log["trace_id"] = trace
            log["dd"] = {"trace_id": correlated}

    if event.reason is not None:
        own["reason"] = event.reason
    if event.tenantId is not None:
        own["tenant_id"] = event.tenantId
    own["schema_version"] = event.schemaVersion
    if event.details is not None:
        own["details"] = event.details
    if enrichment is not None and enrichment.as_ is not None:
        own["as"] = msgspec_builtins(enrichment.as_)
    log["authlog"] = own
    return log


def datadog_trace_id(trace_id: str) -> str | None:
    """The decimal id Datadog correlates logs with traces by, or None when ``trace_id`` is no valid trace id.

    W3C (32 hex) and 64-bit (16 hex) ids give their lower 64 bits; a decimal Datadog id is kept.
    """
    # 32 or 16 lower-case hex digits: nothing is left once they are stripped (a fullmatch without the regex
    # engine, once per event; a trailing newline is no hex digit, so it never passes)
    if len(trace_id) in _HEX_TRACE_ID_CHARS and not trace_id.strip(_HEX_DIGITS):
        number = int(trace_id, 16)
        return str(number & _LOW_64_BITS) if number else None
    if _DECIMAL_TRACE_ID.fullmatch(trace_id):
        number = int(trace_id)
        return str(number) if 0 < number <= _LOW_64_BITS else None
    return None


def _geoip(enrichment: Enrichment) -> dict[str, Any]:
    """``network.client.geoip``, in the layout Datadog's GeoIP parser writes (empty without geo)."""
    geo = enrichment.geo
    out: dict[str, Any] = {}
    if geo is None:
        return out
    country = _named(geo.countryName, geo.countryIsoCode, "iso_code")
    if country:
        out["country"] = country
    if geo.continentCode is not None:
        out["continent"] = {"code": geo.continentCode}
    subdivision = _named(geo.regionName, geo.regionIsoCode, "iso_code")
    if subdivision:
        out["subdivision"] = subdivision
    if geo.cityName is not None:
        out["city"] = {"name": geo.cityName}
    if geo.location is not None:
        out["location"] = {"latitude": geo.location.lat, "longitude": geo.location.lon}
    return out


def _named(name: str | None, code: str | None, code_key: str) -> dict[str, Any]:
    part: dict[str, Any] = {}
    if code is not None:
        part[code_key] = code
    if name is not None:
        part["name"] = name
    return part


def _useragent_details(enrichment: Enrichment) -> dict[str, Any]:
    """``http.useragent_details``, in the layout Datadog's user-agent parser writes (families; empty without one)."""
    parsed = enrichment.userAgent
    out: dict[str, Any] = {}
    if parsed is None:
        return out
    if parsed.name is not None:
        out["browser"] = {"family": parsed.name}
    if parsed.os is not None and parsed.os.name is not None:
        out["os"] = {"family": parsed.os.name}
    if parsed.device is not None and parsed.device.name is not None:
        out["device"] = {"family": parsed.device.name}
    return out
