"""The Datadog log's shape as msgspec Structs: what :mod:`adapters.datadog.mapping` builds and the encoder writes.

One Struct per JSON object of the log, its fields in the order the log's keys take. msgspec writes a
Struct straight to bytes with its keys pre-encoded, two to three times faster than the same nested
dicts; ``msgspec.to_builtins`` turns one into exactly those dicts (``DatadogMapping.log``).

- ``omit_defaults``: a part left at its default (``None``) is left out of the log, as an attribute whose
  canonical field is absent must be; the builder passes ``None`` for an empty part, never an empty Struct.
- ``gc=False``: a log holds only text, numbers, the event's own ``details`` and ``usr`` dicts and the
  enrichment's untracked Structs, so it can be part of no reference cycle; the collector need not scan it.
- ``kw_only`` where a required field follows defaulted ones (``authlog`` closes the log, as it always did);
  every builder passes keywords.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shippers.enrichment.model import AutonomousSystem


class _Part(msgspec.Struct, omit_defaults=True, gc=False):
    """An object of the log: untracked, its unknown fields left out."""


class Evt(_Part):
    """``evt``: what happened (every field always known)."""

    name: str
    outcome: str
    category: str
    id: str


class Named(_Part):
    """``country`` / ``subdivision``: its ISO code and name, those known."""

    iso_code: str | None = None
    name: str | None = None


class Continent(_Part):
    code: str


class City(_Part):
    name: str


class Location(_Part):
    latitude: float
    longitude: float


class GeoIp(_Part):
    """``network.client.geoip``, in the layout Datadog's GeoIP parser writes."""

    country: Named | None = None
    continent: Continent | None = None
    subdivision: Named | None = None
    city: City | None = None
    location: Location | None = None


class Client(_Part):
    ip: str | None = None
    geoip: GeoIp | None = None


class Network(_Part):
    client: Client


class Family(_Part):
    family: str


class UserAgentDetails(_Part):
    """``http.useragent_details``, in the layout Datadog's user-agent parser writes (families only)."""

    browser: Family | None = None
    os: Family | None = None
    device: Family | None = None


class Http(_Part):
    useragent: str | None = None
    useragent_details: UserAgentDetails | None = None


class Dd(_Part):
    """``dd``: the trace id in the decimal form Datadog correlates logs with traces by."""

    trace_id: str


class Own(_Part, kw_only=True, rename={"as_": "as"}):
    """``authlog``: our own namespace (``as`` is a Python keyword, hence ``as_``)."""

    trace_id: str | None = None
    reason: str | None = None
    tenant_id: str | None = None
    schema_version: int
    details: dict[str, Any] | None = None
    as_: AutonomousSystem | None = None  # the enrichment's own Struct: encoded as to_builtins of it


class DatadogLog(_Part, kw_only=True):
    """One log, as the intake receives it (the example in :mod:`adapters.datadog.mapping`)."""

    message: str
    ddsource: str
    service: str
    hostname: str
    ddtags: str
    status: str
    timestamp: int
    evt: Evt
    usr: dict[str, Any] | None = None
    network: Network | None = None
    http: Http | None = None
    trace_id: str | None = None
    dd: Dd | None = None
    authlog: Own
