"""What enrichment adds to an event: ``enrichment = {geo, as, userAgent}``, camelCase like the rest of the line.

Every field is optional and left out when unknown; an object with nothing known is left out
whole (never an empty ``{}``), so a reader may test presence. The structs are frozen (cached
values are shared by many events) and untracked by the garbage collector (they hold only
scalars and each other, so they can form no cycle).
"""

from __future__ import annotations

import msgspec


class _Part(msgspec.Struct, frozen=True, omit_defaults=True, gc=False, kw_only=True):
    """A part of the enrichment: frozen, shared between events, omitted fields when unknown."""


class Location(_Part):
    lat: float
    lon: float


class Geo(_Part):
    continentCode: str | None = None
    countryIsoCode: str | None = None
    countryName: str | None = None
    regionIsoCode: str | None = None
    regionName: str | None = None
    cityName: str | None = None
    postalCode: str | None = None
    timezone: str | None = None
    location: Location | None = None


class AutonomousSystem(_Part):
    number: int | None = None
    organization: str | None = None


class OperatingSystem(_Part):
    name: str | None = None
    version: str | None = None


class Device(_Part):
    name: str | None = None


class UserAgent(_Part):
    """The parsed user agent; the original string stays in the event's own ``userAgent``."""

    name: str | None = None
    version: str | None = None
    os: OperatingSystem | None = None
    device: Device | None = None


class Enrichment(msgspec.Struct, frozen=True, omit_defaults=True, gc=False, kw_only=True, rename={"as_": "as"}):
    """The stored ``enrichment`` object; ``as`` is a Python keyword, hence ``as_``."""

    geo: Geo | None = None
    as_: AutonomousSystem | None = None
    userAgent: UserAgent | None = None


def enrichment_of(geo: Geo | None, as_: AutonomousSystem | None, user_agent: UserAgent | None) -> Enrichment | None:
    """The enrichment of these parts, or None when none is known (no empty object is stored)."""
    if geo is None and as_ is None and user_agent is None:
        return None
    return Enrichment(geo=geo, as_=as_, userAgent=user_agent)
