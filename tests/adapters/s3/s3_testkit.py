"""Helpers of the S3 adapter tests: a fixed clock, events of every catalog type, adapters and requests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.contract import Request, SinkContext
from adapters.s3 import S3Adapter, S3Config
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.enrichment.model import Enrichment
from shippers.event import Event, EventValidator
from shippers.testing.events import FIXED_NOW as FIXED
from shippers.testing.events import every_type_and_reason, full_event  # noqa: F401 - re-exported for this folder's tests

DATA = Path(__file__).parents[2] / "data" / "s3"
SINK = "archive"
_bucket_numbers = itertools.count(1)


def unique_bucket(stem: str = "authlog") -> str:
    """A bucket name no other test uses (moto's state is shared by the whole process)."""
    return f"{stem}-{next(_bucket_numbers)}"


def ocsf_facts(class_uid: int) -> dict[str, Any]:
    name = {3002: "ocsf_authentication.json", 3001: "ocsf_account_change.json"}[class_uid]
    return json.loads((DATA / name).read_text("utf-8"))




# The core's `enrichment` object, as issue 13 fixes its shape (each sub-key only when known).
GEO = {
    "continentCode": "EU", "countryIsoCode": "DE", "countryName": "Germany", "regionIsoCode": "BE",
    "regionName": "Land Berlin", "cityName": "Berlin", "postalCode": "10115", "timezone": "Europe/Berlin",
    "location": {"lat": 52.52, "lon": 13.40},
}
AUTONOMOUS_SYSTEM = {"number": 3320, "organization": "Deutsche Telekom AG"}
USER_AGENT = {"name": "Chrome", "version": "120.0.0", "os": {"name": "Mac OS X", "version": "10.15.7"}, "device": {"name": "Mac"}}
FULL_ENRICHMENT = {"geo": GEO, "as": AUTONOMOUS_SYSTEM, "userAgent": USER_AGENT}


# A Security Lake setting of the tests: both classes, each to its own custom source.
SECURITY_LAKE = {"account_id": "123456789012", "region": "eu-central-1", "sources": {"3002": "authlog_auth", "3001": "authlog_account"}}


def without_nulls(value: Any) -> Any:
    """A Parquet row as read back, without the nulls of the attributes its line did not have."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def enriched(event: Event, enrichment: dict[str, Any] | None = None) -> Event:
    """``event`` carrying the core's ``enrichment`` Struct built from ``enrichment`` (default: geo, AS and user agent)."""
    value = msgspec.convert(FULL_ENRICHMENT if enrichment is None else enrichment, Enrichment)
    return msgspec.structs.replace(event, enrichment=value)


def validator(clock: Callable[[], float] = lambda: FIXED) -> EventValidator:
    return EventValidator(builtin_catalog(), clock=clock)




def minimal_event(type_: str, reason: str | None = None) -> Event:
    """A validated event with only type (and reason) and a fixed id and time."""
    fields: dict[str, Any] = {"type": type_, "id": "evt-min", "time": "2026-11-25T19:34:33.123Z"}
    if reason is not None:
        fields["reason"] = reason
    return validator().from_fields(fields)


def s3_config(**keys: Any) -> S3Config:
    """An S3Config through the real config loader (so defaults and checks are the shipped ones).

    An OCSF format gets ``service_name = "shop"`` unless the test names one (None: left out).
    """
    ocsf = {"service_name": "shop"} if keys.get("format") in ("ocsf", "ocsf-parquet") else {}
    raw = {"type": "s3", "bucket": "auth-logs", **ocsf, **keys}
    config = config_from_dict({"sinks": {SINK: {k: v for k, v in raw.items() if v is not None}}})
    adapter_config: S3Config = config.sinks[SINK].adapter
    return adapter_config


def make_adapter(clock: Callable[[], float] = lambda: FIXED, sink: str = SINK, **keys: Any) -> S3Adapter:
    """An adapter for sink ``sink`` with these config keys (bucket defaulted)."""
    return S3Adapter(SinkContext(name=sink, catalog=builtin_catalog(), clock=clock), s3_config(**keys))


def line_of(adapter: S3Adapter, event: Event) -> dict[str, Any]:
    """The line the adapter writes for ``event``, as a reader of the object sees it."""
    return json.loads(adapter.encode_item(adapter.map(event)))


def make_request(adapter: S3Adapter, events: list[Event], first_seq: int = 1, key: str | None = "") -> Request:
    """The Request the core would build for these (same-partition) events; ``key=""`` records object_key()."""
    docs = [adapter.map(e) for e in events]
    partition = adapter.partition(events[0])
    last_seq = first_seq + len(events) - 1
    recorded = adapter.object_key(partition, first_seq, last_seq) if key == "" else key
    return Request(
        batch_id=first_seq,
        sink=adapter.context.name,
        partition=partition,
        key=recorded,
        first_seq=first_seq,
        last_seq=last_seq,
        events=events,
        docs=docs,
        items=[adapter.encode_item(d) for d in docs],
    )


def no_credentials_anywhere(monkeypatch: pytest.MonkeyPatch, config_dir: Path) -> None:
    """boto3's chain finds nothing: no key variables, no profile, no shared files (the metadata endpoint is off for tests)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_dir / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_dir / "none"))
