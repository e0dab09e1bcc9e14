"""The ECS document as msgspec Structs: the one definition of its objects, their keys and their order.

:mod:`.mapping` fills them, :mod:`.encoder` encodes them straight to the ``_bulk`` source line.
Structs rather than dicts because this runs once per event per sink: msgspec encodes a Struct
with its keys encoded in advance (a nested dict document took ~1.2 µs to encode, its Structs
~0.4), and building a Struct is cheaper than building the dict it replaces.

The rules every Struct here follows:

- Field order is key order on the wire (``@timestamp``, ``event``, ``message``, ... ``authlog``):
  tests compare the encoded documents with the ECS table byte for byte.
- ``omit_defaults``: a field left at its default ``None`` is left out (ECS wants absent fields
  absent, never null). No field has any other default, so a real value is never omitted for
  happening to equal one; the fields that always have a value and follow optional ones
  (``ecs``, ``authlog``, ``authlog.schema_version``) default to None only to keep construction positional.
- ``gc=False``: a document lives for one encode and holds only text, numbers, lists of text and
  the event's decoded ``details`` (JSON values): it can form no reference cycle.
- Positional construction (no ``kw_only``): the fastest way to build a Struct, and the mapping
  is the only builder.
- Constant sub-objects are ``msgspec.Raw``, encoded once: ``ecs`` at import, the sink's ``labels`` per sink.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shippers.enrichment.model import Location


class _Object(msgspec.Struct, omit_defaults=True, gc=False):
    """An ECS object: None fields left out, untracked by the garbage collector, built positionally."""


class EcsEvent(_Object):
    """ECS ``event``: what happened, and what produced the document."""

    id: str
    kind: str
    category: list[str] | tuple[str, ...]  # the catalog's tuples are encoded as they are: JSON arrays
    type: list[str] | tuple[str, ...]
    action: str
    outcome: str
    module: str
    provider: str
    dataset: str
    reason: str | None = None


class Named(_Object):
    """An object with only a ``name`` (``source.as.organization``, ``user_agent.device``)."""

    name: str


class Identified(_Object):
    """An object with only an ``id`` (``organization``, ``trace``)."""

    id: str


class EcsGeo(_Object):
    """ECS ``source.geo``: the enrichment's geo fields, in its order, under their ECS names."""

    continent_code: str | None = None
    country_iso_code: str | None = None
    country_name: str | None = None
    region_iso_code: str | None = None
    region_name: str | None = None
    city_name: str | None = None
    postal_code: str | None = None
    timezone: str | None = None
    location: Location | None = None  # the enrichment's {lat, lon}: exactly ECS geo_point's object form


class EcsAs(_Object, rename={"as_": "as"}):
    """ECS ``source.as``: written as soon as the enrichment has an AS, even with neither field known."""

    number: int | None = None
    organization: Named | None = None


class EcsSource(_Object, rename={"as_": "as"}):
    """ECS ``source``: the client's address and what enrichment knows of it."""

    ip: str | None = None
    geo: EcsGeo | None = None
    as_: EcsAs | None = None


class EcsOs(_Object):
    """ECS ``user_agent.os``: ``full`` is ``name version``, written only with the version."""

    name: str
    version: str | None = None
    full: str | None = None


class EcsUserAgent(_Object):
    """ECS ``user_agent``: the original string and what enrichment parsed of it."""

    original: str | None = None
    name: str | None = None
    version: str | None = None
    os: EcsOs | None = None
    device: Named | None = None


class EcsRelated(_Object):
    """ECS ``related``: every user identity and address of the event (pivot fields for hunting)."""

    user: list[str] | None = None
    ip: list[str] | None = None


class AuthlogFields(_Object):
    """``authlog``: our own namespace (the catalog's action text, what ECS has no field for, the schema)."""

    action: str
    ip: str | None = None  # a PII-transformed IP that is no address any more (source.ip would reject it)
    reason_code: str | None = None
    details: dict[str, Any] | None = None
    schema_version: int | None = None  # always set (see the module docstring)


class EcsDocument(_Object, rename={"timestamp": "@timestamp"}):
    """One ECS document, the ``_bulk`` source line of one event."""

    timestamp: str
    event: EcsEvent
    message: str
    user: dict[str, Any] | None = None  # adapters.identity.user_fields: the identity every destination shares
    source: EcsSource | None = None
    user_agent: EcsUserAgent | None = None
    related: EcsRelated | None = None
    organization: Identified | None = None
    trace: Identified | None = None
    labels: msgspec.Raw | None = None  # the sink's labels, encoded once
    ecs: msgspec.Raw | None = None  # always set (see the module docstring)
    authlog: AuthlogFields | None = None  # always set
