"""Plain records that cross the buffer's interface (no SQLite types leak out)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import msgspec

from shippers.event import Event

# The pii tag of a dead letter whose stored bytes do not decode: kept as stored, withheld from every view
# (no PII policy can be applied to what cannot be read), never converted or replayed.
UNDECODABLE_TAG = "undecodable"
# Why: 64 bits of the body's SHA-256 tell two withheld letters apart without showing anything of them.
WITHHELD_HASH_HEX = 16


def withheld_body(body: bytes) -> str:
    """What a view shows of an undecodable body instead of it: its length and a hash, and why."""
    digest = hashlib.sha256(body).hexdigest()[:WITHHELD_HASH_HEX]
    return (f"{len(body)} bytes, sha256 {digest}: the stored event does not decode, so the sink's PII policy "
            "cannot be applied to it and it is not shown")


class StoredRow(msgspec.Struct, frozen=True, gc=False):
    """One event as a sink worker scans it: routing columns without decoding the body.

    A Struct the garbage collector does not track (``gc=False``; it holds only numbers, text and bytes):
    rows are built by the hundred thousand on the delivery path and held until their batch settles (S3:
    up to 100k), and tracked rows made every full collection walk them (a NamedTuple is never untracked).
    """

    seq: int
    received: float
    type: str
    outcome: str
    tenant: str | None
    only_sink: str | None  # set on DLQ replays: only this sink takes the event
    body: bytes
    pii: str | None = None  # set on DLQ replays: the PII treatment the body already carries (shippers.pii tag)


class NewBatch(NamedTuple):
    """A batch as the cut made it, before the store records it: its destination key is computed already."""

    partition: str
    key: str | None
    seqs: Sequence[int]


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
    event: Event | None  # None: the stored body does not decode; ``withheld`` says what it was
    pii: str | None = None  # the PII treatment the event carries; None = stored raw and shown without personal fields
    withheld: str | None = None  # set when the body does not decode: its length and hash (see withheld_body)


class RoutingCount(NamedTuple):
    """How many stored rows carry one set of routing columns (what a route decides on, bodies unread)."""

    type: str
    outcome: str
    tenant: str | None
    only_sink: str | None
    count: int

    def as_row(self) -> StoredRow:
        """A body-less row with these routing columns, for a route filter to judge."""
        return StoredRow(0, 0.0, self.type, self.outcome, self.tenant, self.only_sink, b"")


@dataclass(frozen=True, slots=True)
class SinkPolicy:
    """What the store must know about a configured sink to route, cap and start it."""

    name: str
    type: str
    when_full: str  # "block" | "drop_oldest"
    max_backlog: int | None  # bytes; None = the whole store
    start_at: str  # "tail" | "oldest"
    route: str = ""  # shippers.routing.route_text: a fleet's members must route a sink alike ("" = not checked)


@dataclass(frozen=True, slots=True)
class SinkRow:
    """A sink's persisted position and counters."""

    name: str
    type: str
    watermark: int
    cut_through: int
    lag_events: int  # every event above the watermark, routed or not (status counts routed ones: shippers.delivery.lag)
    lag_bytes: int  # the bytes the sink holds in the store (what max_backlog caps)
    in_flight: int  # events in its recorded, unsettled batches
    delivered: int
    duplicates: int
    retries: int
    dead_lettered: int
    dropped: int
    dlq_events: int
    state: str
    last_error: str | None
    last_delivery_at: float | None
