"""The cut, pure: scanned rows in -> batches (partition, items, destination key) and pre-send dead letters out.

No store, no thread, no clock of its own: what to cut comes from the scan (shippers.delivery.scan),
recording the result is the store's (``Buffer.record_cut`` takes the batches as
:class:`~shippers.buffer.records.NewBatch`, keys computed here). Each row is decoded, mapped for
the sink, checked (``adapter.check_item``) and partitioned, and joins its partition's open run, which
is closed when the next item would pass the limits: one walk over the rows (the limits are kept while
mapping, in seq order, not by a second pass over each partition). Each batch gets its key from the
adapter's pure ``object_key``, so a resend after a crash targets the same object. A row that fails
any of it is a dead letter, never a lost stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from adapters.contract import BatchLimits, HardLimits
from shippers.buffer.records import DeadItem, NewBatch, StoredRow
from shippers.delivery.codes import CODE_INVALID
from shippers.delivery.mapping import Mapped, RowMapper, adapter_failure

# adapter.object_key(partition, first_seq, last_seq): the destination key of a batch (None: the destination needs none).
KeyFor = Callable[[str, int, int], str | None]


@dataclass(frozen=True, slots=True)
class Limits:
    """How large one batch may grow: the sink's batch limits within the destination's hard limits."""

    max_events: int
    max_bytes: int  # sum of the items' encoded sizes

    @classmethod
    def within(cls, limits: BatchLimits, hard: HardLimits) -> Limits:
        return cls(min(limits.max_events, hard.max_events), min(limits.max_bytes, hard.max_bytes))


@dataclass(slots=True)
class CutBatch:
    """One batch as cut: its partition, its destination key and its items in seq order."""

    partition: str
    key: str | None
    items: list[Mapped]

    def recorded_as(self) -> NewBatch:
        """What the store records of it (before it gives it an id)."""
        return NewBatch(self.partition, self.key, [m.row.seq for m in self.items])


@dataclass(slots=True)
class Cut:
    """What one cut produced: batches to record and send, and events dead-lettered before sending."""

    batches: list[CutBatch]
    dead: list[DeadItem]


class Runs:
    """One partition's items as consecutive runs within ``limits``, built as the items come (in seq order).

    An item larger than max_bytes alone is a run of one; a run is never empty.
    """

    __slots__ = ("max_events", "max_bytes", "parts", "current", "size")

    def __init__(self, limits: Limits, first: Mapped) -> None:
        self.max_events, self.max_bytes = limits.max_events, limits.max_bytes
        self.current = [first]
        self.parts = [self.current]
        self.size = len(first.item)

    def add(self, mapped: Mapped) -> None:
        length = len(mapped.item)
        size = self.size + length
        current = self.current
        if len(current) >= self.max_events or size > self.max_bytes:
            self.current = [mapped]
            self.parts.append(self.current)
            self.size = length
        else:
            current.append(mapped)
            self.size = size


def cut(rows: Iterable[StoredRow], mapper: RowMapper, limits: Limits, now: float) -> Cut:
    """Map, check and partition ``rows`` (routed already) into keyed batches within ``limits``; ``now`` is wall time."""
    adapter = mapper.adapter
    check_item, partition_of, map_row, decode = adapter.check_item, adapter.partition, mapper.map_row, mapper.decode
    dead: list[DeadItem] = []
    by_partition: dict[str, Runs] = {}
    for row in rows:
        stored = decode(row)
        if isinstance(stored, DeadItem):
            dead.append(stored)
            continue
        try:
            mapped = map_row(row, stored)
            problem = check_item(mapped.event, mapped.item, now)
            partition = partition_of(mapped.event) if problem is None else ""
        except Exception as exc:  # an adapter bug must cost one event, not the stream
            dead.append(mapper.dead_letter(row, CODE_INVALID, adapter_failure(exc), stored=stored))
            continue
        if problem is not None:
            dead.append(mapper.dead_letter(row, CODE_INVALID, problem, mapped))
            continue
        runs = by_partition.get(partition)
        if runs is None:
            by_partition[partition] = Runs(limits, mapped)
        else:
            runs.add(mapped)
    key_for = adapter.object_key
    batches = [keyed(partition, part, key_for) for partition, runs in by_partition.items() for part in runs.parts]
    return Cut(batches, dead)


def keyed(partition: str, items: list[Mapped], key_for: KeyFor) -> CutBatch:
    """A batch of ``items`` with its destination key, from its first and last seq."""
    return CutBatch(partition, key_for(partition, items[0].row.seq, items[-1].row.seq), items)


def halves(partition: str, items: list[Mapped], key_for: KeyFor) -> list[CutBatch]:
    """A batch the destination found too large, as two keyed halves (the first one the smaller for an odd count)."""
    half = len(items) // 2
    return [keyed(partition, items[:half], key_for), keyed(partition, items[half:], key_for)]
