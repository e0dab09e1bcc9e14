"""Stored rows and a keyed adapter for the pure delivery layers' tests (cut, settle): no store, no thread."""

from __future__ import annotations

from typing import Any

from adapters.contract import Adapter, BatchLimits, HardLimits, Request, SinkContext, Verdict
from shippers.buffer.records import StoredRow
from shippers.catalog import builtin_catalog
from shippers.delivery.mapping import Mapped, RowMapper
from shippers.event import Event, EventValidator, encode_event
from shippers.pii import SinkPii

NOW = 1_795_000_000.0
# Why: small enough that a padded event passes it, so the item check has something to refuse.
MAX_ITEM_BYTES = 300
UNDECODABLE = b"\xff\xfe not an event"
_VALIDATOR = EventValidator(builtin_catalog(), clock=lambda: NOW)


class KeyedAdapter(Adapter):
    """Partitions by tenant (raising for tenant "boom"), keys batches "<partition>/<first>-<last>", never sends."""

    name = "keyed"
    summary = "test adapter for the pure delivery layers"
    batch_defaults = BatchLimits(max_events=100, max_bytes=1 << 20, timeout=1.0)
    hard_limits = HardLimits(max_events=100, max_bytes=1 << 20, max_item_bytes=MAX_ITEM_BYTES)

    def map(self, event: Event) -> dict[str, Any]:
        return {"id": event.id, "tenant": event.tenantId, "email": event.email, "pad": (event.details or {}).get("pad")}

    def partition(self, event: Event) -> str:
        if event.tenantId == "boom":
            raise ValueError("bad tenant")
        return event.tenantId or ""

    def object_key(self, partition: str, first_seq: int, last_seq: int) -> str:
        return f"{partition}/{first_seq}-{last_seq}"

    def send(self, request: Request) -> Verdict:
        raise AssertionError("a pure layer never sends")


def mapper(pii: SinkPii | None = None) -> RowMapper:
    return RowMapper(KeyedAdapter(SinkContext("keyed", builtin_catalog(), lambda: NOW), None), pii)


def row(seq: int, tenant: str = "t-1", *, pad: int = 0, body: bytes | None = None) -> StoredRow:
    """The stored row of event ``e<seq>`` of ``tenant`` (``pad`` characters of details make it larger)."""
    fields: dict[str, Any] = {"type": "login.completed", "id": f"e{seq}", "userId": "u", "tenantId": tenant, "email": "ana@example.com"}
    if pad:
        fields["details"] = {"pad": "x" * pad}
    event = _VALIDATOR.from_fields(fields)
    return StoredRow(seq, NOW, event.type, event.outcome, tenant, None, encode_event(event) if body is None else body)


def mapped(*seqs: int, pii: SinkPii | None = None) -> list[Mapped]:
    """Rows ``seqs`` of tenant t-1 mapped for the keyed sink."""
    rows_mapper = mapper(pii)
    out = []
    for seq in seqs:
        stored = row(seq)
        event = rows_mapper.decode(stored)
        assert isinstance(event, Event)
        out.append(rows_mapper.map_row(stored, event))
    return out
