"""Plain records that cross the buffer's interface (no SQLite types leak out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from shippers.event import Event


class StoredRow(NamedTuple):
    """One event as a sink worker scans it: routing columns without decoding the body.

    A NamedTuple, not a dataclass: rows are built by the hundred thousand on the delivery path.
    """

    seq: int
    received: float
    type: str
    outcome: str
    tenant: str | None
    only_sink: str | None  # set on DLQ replays: only this sink takes the event
    body: bytes
    pii: str | None = None  # set on DLQ replays: the PII treatment the body already carries (shippers.pii tag)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A batch as recorded before it is sent: re-sent exactly as cut after a crash."""

    id: int
    sink: str
    partition: str
    key: str | None
    seqs: tuple[int, ...]

    @property
    def first_seq(self) -> int:
        return self.seqs[0]

    @property
    def last_seq(self) -> int:
        return self.seqs[-1]


@dataclass(frozen=True, slots=True)
class DeadItem:
    """An event on its way into a sink's DLQ."""

    seq: int
    code: str  # low-cardinality label for metrics (e.g. "rejected_by_destination")
    reason: str  # what the destination or the adapter said, for a person
    body: bytes  # the event as the sink may see it (its PII policy applied)
    pii: str | None = None  # the tag of the PII treatment the body carries; None = raw, as the producer sent it


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event in a sink's DLQ."""

    id: int
    sink: str
    seq: int
    code: str
    reason: str
    at: float
    event: Event
    pii: str | None = None  # the PII treatment the event carries; None = stored raw and shown without personal fields


@dataclass(frozen=True, slots=True)
class SinkPolicy:
    """What the store must know about a configured sink to route, cap and start it."""

    name: str
    type: str
    when_full: str  # "block" | "drop_oldest"
    max_backlog: int | None  # bytes; None = the whole store
    start_at: str  # "tail" | "oldest"


@dataclass(frozen=True, slots=True)
class SinkRow:
    """A sink's persisted position and counters."""

    name: str
    type: str
    watermark: int
    cut_through: int
    lag_events: int
    lag_bytes: int
    delivered: int
    duplicates: int
    retries: int
    dead_lettered: int
    dropped: int
    dlq_events: int
    state: str
    last_error: str | None
    last_delivery_at: float | None
