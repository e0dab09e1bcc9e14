"""Helpers of the S3 adapter tests: a fixed clock, events of every catalog type, adapters and requests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.contract import Request, SinkContext
from adapters.s3 import S3Adapter, S3Config
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.event import Event, EventValidator

FIXED = 1_795_635_273.123  # 2026-11-25T19:34:33.123Z, epoch seconds
DATA = Path(__file__).parents[2] / "data" / "s3"
SINK = "archive"
_bucket_numbers = itertools.count(1)


def unique_bucket(stem: str = "authlog") -> str:
    """A bucket name no other test uses (moto's state is shared by the whole process)."""
    return f"{stem}-{next(_bucket_numbers)}"


def ocsf_facts(class_uid: int) -> dict[str, Any]:
    name = {3002: "ocsf_authentication.json", 3001: "ocsf_account_change.json"}[class_uid]
    return json.loads((DATA / name).read_text("utf-8"))


def every_type_and_reason() -> list[tuple[str, str | None]]:
    """(type, reason) for every catalog type, once without a reason and once per reason."""
    cases: list[tuple[str, str | None]] = []
    for kind in builtin_catalog():
        cases.append((kind.name, None))
        cases += [(kind.name, reason) for reason in kind.reasons]
    return cases


def validator(clock: Callable[[], float] = lambda: FIXED) -> EventValidator:
    return EventValidator(builtin_catalog(), clock=clock)


def full_event(type_: str, reason: str | None = None, **extra: Any) -> Event:
    """A validated event with every optional field set (``None`` in ``extra`` leaves a field out)."""
    fields: dict[str, Any] = {
        "type": type_,
        "id": "0193a5e2-7c1d-7abc-8def-0123456789ab",
        "time": "2026-11-25T19:34:33.123Z",
        "tenantId": "t-42",
        "userId": "u-7",
        "email": "ana@example.com",
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "details": {"k": "v", "attempt": 3},
    }
    if reason is not None:
        fields["reason"] = reason
    fields.update(extra)
    return validator().from_fields({k: v for k, v in fields.items() if v is not None})


def minimal_event(type_: str, reason: str | None = None) -> Event:
    """A validated event with only type (and reason) and a fixed id and time."""
    fields: dict[str, Any] = {"type": type_, "id": "evt-min", "time": "2026-11-25T19:34:33.123Z"}
    if reason is not None:
        fields["reason"] = reason
    return validator().from_fields(fields)


def s3_config(**keys: Any) -> S3Config:
    """An S3Config through the real config loader (so defaults and checks are the shipped ones)."""
    raw = {"type": "s3", "bucket": "auth-logs", **keys}
    config = config_from_dict({"sinks": {SINK: {k: v for k, v in raw.items() if v is not None}}})
    adapter_config: S3Config = config.sinks[SINK].adapter
    return adapter_config


def make_adapter(clock: Callable[[], float] = lambda: FIXED, sink: str = SINK, **keys: Any) -> S3Adapter:
    """An adapter for sink ``sink`` with these config keys (bucket defaulted)."""
    return S3Adapter(SinkContext(name=sink, catalog=builtin_catalog(), clock=clock), s3_config(**keys))


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
