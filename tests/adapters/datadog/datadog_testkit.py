"""Helpers of the Datadog adapter tests: a fixed clock, events of every catalog type, adapters and requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.contract import Request, SinkContext
from adapters.datadog import DatadogAdapter, DatadogConfig
from shippers.catalog import builtin_catalog
from shippers.event import Event
from shippers.testing.events import FIXED_NOW as FIXED
from shippers.testing.events import every_type_and_reason, full_event, request_for  # noqa: F401 - re-exported for this folder's tests

KEY = "dd-test-key-0123456789abcdef"
DATA = Path(__file__).parents[2] / "data" / "datadog"


def make_adapter(clock: Callable[[], float] = lambda: FIXED, **keys: Any) -> DatadogAdapter:
    """An adapter for sink 'dd' with these config keys (api_key and hostname defaulted)."""
    raw = {"api_key": KEY, "hostname": "web-1", **keys}
    config = DatadogConfig(**{k: v for k, v in raw.items() if v is not None})
    return DatadogAdapter(SinkContext(name="dd", catalog=builtin_catalog(), clock=clock), config)


def log_of(adapter: DatadogAdapter, event: Event) -> dict[str, Any]:
    """The Datadog log the adapter maps ``event`` to, as the intake will read it (map returns its bytes)."""
    return json.loads(adapter.map(event))


def make_request(adapter: DatadogAdapter, events: list[Event], batch_id: int = 1) -> Request:
    """The Request the core would build for these events."""
    return request_for(adapter, events, batch_id=batch_id)
