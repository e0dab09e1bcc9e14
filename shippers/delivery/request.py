"""A recorded batch and its mapped items -> the :class:`~adapters.contract.Request` one attempt sends (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.contract import Request
from shippers.buffer.records import BatchRecord
from shippers.delivery.mapping import Mapped


def build_request(batch: BatchRecord, items: Sequence[Mapped]) -> Request:
    """The request for ``batch``: its recorded key and seqs, the items' events, documents and encoded bytes."""
    return Request(
        batch_id=batch.id,
        sink=batch.sink,
        partition=batch.partition,
        key=batch.key,
        first_seq=batch.first_seq,
        last_seq=batch.last_seq,
        events=[m.event for m in items],
        docs=[m.doc for m in items],
        items=[m.item for m in items],
    )
