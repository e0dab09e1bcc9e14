"""The bytes Elasticsearch, Datadog and Cloud Logging send for a fixed set of events, pinned to what they sent before
their documents became Structs (def3015): a change to any mapping's output, key order included, shows here.

The events (tests/data/mapping_bytes.jsonl) are archive lines: every catalog type and reason with and without
enrichment, and hypothesis-drawn shapes (odd text, control characters, empty strings, huge and deep details, every
enrichment shape, trace ids of every form, unknown types, 1 KiB tenants, PII-transformed values). Each line holds,
per sink below, the first 16 hex digits of the SHA-256 of ``adapter.map`` (or the exception's type): enough to catch
any drift, small enough to review. A deliberate change to a mapping regenerates them (and belongs in CHANGELOG).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.cloud_logging import CloudLoggingAdapter, CloudLoggingConfig
from adapters.contract import Adapter, SinkContext
from adapters.datadog import DatadogAdapter, DatadogConfig
from adapters.elasticsearch import ElasticsearchAdapter, ElasticsearchConfig
from shippers.buffer.records import StoredRow
from shippers.catalog import builtin_catalog
from shippers.config import PiiConfig
from shippers.delivery.mapping import RowMapper
from shippers.event import decode_event
from shippers.pii import SinkPii

GOLDEN = Path(__file__).parents[1] / "data" / "mapping_bytes.jsonl"
DIGEST_HEX = 16  # Why: 64 bits tell any two outputs apart in a regression test; the full digest would triple the file
ADAPTERS: dict[str, tuple[type[Adapter], type[Any]]] = {
    "elasticsearch": (ElasticsearchAdapter, ElasticsearchConfig),
    "datadog": (DatadogAdapter, DatadogConfig),
    "cloud_logging": (CloudLoggingAdapter, CloudLoggingConfig),
}
HASHED = {"email": "hash", "ip": "mask", "user_agent": "drop", "hash_key": "pinned-key"}
# name -> (adapter, its config keys, its PII policy or None): every fixed part each mapping has.
SINKS: dict[str, tuple[str, dict[str, Any], dict[str, str] | None]] = {
    "es-index": ("elasticsearch", {"hosts": ["http://127.0.0.1:9"], "index": "authlog"}, None),
    "es-stream-labels": ("elasticsearch", {"hosts": ["http://127.0.0.1:9"], "data_stream": "logs-authlog-default",
                                           "dataset": "auth.prod", "labels": {"z": "1", "env": "pr\u00e9 d"}}, None),
    "es-pii": ("elasticsearch", {"hosts": ["http://127.0.0.1:9"], "index": "authlog"}, HASHED),
    "dd-default": ("datadog", {"hostname": "web-1"}, None),
    "dd-full": ("datadog", {"hostname": "web-1", "env": "prod env", "tags": ["team:a b", "k"], "service": "svc",
                            "source": "src", "status_by_type": {"user.locked": "error", "login.completed": "debug"}}, HASHED),
    "cl-default": ("cloud_logging", {"project": "p-1"}, None),
    "cl-full": ("cloud_logging", {"project": "p-1", "log_name": "auth/events.v1", "labels": {"z": "1", "a": "\u00e9"},
                                  "severity_by_type": {"user.locked": "CRITICAL"},
                                  "resource": {"type": "generic_node", "labels": {"location": "eu", "node_id": "n"}}}, HASHED),
}  # fmt: skip


def mapper(sink: str) -> RowMapper:
    """The sink's adapter behind the core's RowMapper (its PII policy applied first, as in delivery)."""
    kind, keys, pii = SINKS[sink]
    adapter_class, config_class = ADAPTERS[kind]
    config = msgspec.convert(keys, config_class, dec_hook=lambda cls, value: cls(value))
    adapter = adapter_class(SinkContext(name=sink, catalog=builtin_catalog(), clock=lambda: 1_795_635_273.123), config)
    return RowMapper(adapter, SinkPii(PiiConfig(**pii)) if pii else None)


def digest(mapper_: RowMapper, seq: int, line: bytes) -> str:
    """What the sink sends for this stored line, as its short digest (or the exception the mapping raised)."""
    stored = decode_event(line)
    row = StoredRow(seq, 0.0, stored.type, stored.outcome, stored.tenantId, None, line)
    try:
        item = mapper_.map_row(row, stored).item
    except Exception as exc:
        return f"error:{type(exc).__name__}"
    return hashlib.sha256(item).hexdigest()[:DIGEST_HEX]


def pinned() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text("ascii").split("\n") if line]


@pytest.mark.parametrize("sink", sorted(SINKS))
def test_every_pinned_event_maps_to_its_pinned_bytes(sink: str) -> None:
    """Each event's item for this sink has the digest recorded from the dict-built mappings (twice: shared parts cached)."""
    rows = pinned()
    sink_mapper = mapper(sink)
    for round_ in range(2):
        got = [digest(sink_mapper, seq, row["event"].encode()) for seq, row in enumerate(rows, 1)]
        drifted = [seq for seq, (row, now) in enumerate(zip(rows, got, strict=True), 1) if row["items"][sink] != now]
        assert drifted == [], f"round {round_}: these lines of {GOLDEN.name} map to other bytes for {sink}"
