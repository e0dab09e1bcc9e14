"""Helpers of the Cloud Logging adapter tests: a fixed clock, events of every catalog type, adapters and requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from adapters.cloud_logging import CloudLoggingAdapter, CloudLoggingConfig
from adapters.contract import Request, SinkContext
from shippers import units
from shippers.catalog import builtin_catalog
from shippers.config import Duration, FilePath
from shippers.event import Event, EventValidator
from shippers.testing.events import EVENT_ID, TRACE_ID, case_id, every_type_and_reason, full_event, request_for  # noqa: F401 - re-exported for this folder's tests
from shippers.testing.events import FIXED_NOW as FIXED

PROJECT = "test-project"
DATA = Path(__file__).parents[2] / "data" / "cloud_logging"






def event(type_: str, reason: str | None = None, **fields: Any) -> Event:
    """A validated event at FIXED with exactly the given optional fields (None leaves one out)."""
    raw: dict[str, Any] = {"type": type_, "id": EVENT_ID, "time": "2026-11-25T19:34:33.123Z", **fields}
    if reason is not None:
        raw["reason"] = reason
    return EventValidator(builtin_catalog(), clock=lambda: FIXED).from_fields({k: v for k, v in raw.items() if v is not None})




def make_config(**keys: Any) -> CloudLoggingConfig:
    """A config for project PROJECT with these keys, decoded the way the loader does."""
    raw = {"project": PROJECT, **keys}
    return msgspec.convert(
        {k: v for k, v in raw.items() if v is not None}, CloudLoggingConfig, dec_hook=_dec_hook, strict=False
    )


def _dec_hook(kind: type, value: Any) -> Any:
    """Build the config loader's Duration / FilePath values from plain ones."""
    if kind is Duration:
        return Duration(units.parse_duration(value))
    if kind is FilePath:
        return FilePath(str(value))
    raise NotImplementedError(kind)


def make_adapter(clock: Callable[[], float] = lambda: FIXED, name: str = "gcl", **keys: Any) -> CloudLoggingAdapter:
    """An adapter for sink ``name`` with these config keys."""
    return CloudLoggingAdapter(SinkContext(name=name, catalog=builtin_catalog(), clock=clock), make_config(**keys))


def entry_of(adapter: CloudLoggingAdapter, event: Event) -> dict[str, Any]:
    """The LogEntry the adapter maps ``event`` to, as the service will read it (map returns its bytes)."""
    return json.loads(adapter.map(event))


def make_request(adapter: CloudLoggingAdapter, events: list[Event], batch_id: int = 1) -> Request:
    """The Request the core would build for these events."""
    return request_for(adapter, events, batch_id=batch_id)
