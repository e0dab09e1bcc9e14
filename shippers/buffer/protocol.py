"""The ``Buffer`` protocol: what the delivery core and the Shipper need from a durable store (and its per-sink ``DeliverySource``).

Nothing here names SQLite: :class:`~shippers.buffer.sqlite.SqliteBuffer` implements it today and a
second store (NATS JetStream) can implement it next; ``shippers.testing.buffer_contract`` is the
suite both must pass. Only records of :mod:`shippers.buffer.records` and the errors of
:mod:`shippers.errors` cross it. docs/TEAM-NOTES.md ("The Buffer protocol") says the same per method.

Positions, for one sink, over the store's sequence numbers (seqs: 1, 2, 3... in commit order)::

    watermark <= cut_through <= last_seq
    (.., watermark]          done for this sink: acked, dead-lettered, or not routed to it
    (watermark, cut_through] scanned: each routed event is in a recorded batch, in the DLQ, or done
    (cut_through, last_seq]  not scanned yet

Promises every implementation keeps:

- **One transaction per call** that writes (append, record_cut, replace_batch, settle, note_attempt,
  register_sinks, forget_sink; replay and purge per chunk): all of it or none of it is kept.
- **Seqs commit in order**: a reader that sees seq N sees every seq below it.
- **A batch is recorded before it is sent**, with its destination key, in the same transaction
  that moves ``cut_through`` past its events; the watermark passes a batch only once it is settled.
  After a crash ``open_batches`` gives back exactly what was recorded (same seqs, same key).
- **One deliverer**: only the holder of the delivery lock writes sink positions and policies.
- Failures leave as :class:`~shippers.errors.BufferError` subclasses that say what to do.

Delivery goes through a :class:`DeliverySource` per sink (``buffer.delivery_source(sink)``): the
cursor, recorded batches and settles of that sink as *this process* sees them. The embedded store
is its own source (one deliverer per store, the lock holder); on JetStream many members share a
sink's consumer, and each member's source numbers the messages it was handed with its own seqs
(``shippers.buffer.jetstream.source``). The delivery core types against ``DeliverySource`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from shippers.buffer.records import (
    BatchRecord,
    DeadItem,
    DeadLetter,
    NewBatch,
    RoutingCount,
    SinkPolicy,
    SinkRow,
    StoredRow,
)
from shippers.errors import BufferError
from shippers.event import Event


class DeliverySource(Protocol):
    """One sink's delivery as this process sees it: what the delivery core calls, over the seqs this source hands out.

    :class:`Buffer` is one too (the embedded store is its own source, for every sink).
    """

    def last_seq(self) -> int:
        """The highest committed seq (0 for an empty store)."""
        ...

    def position(self, sink: str) -> tuple[int, int]:
        """``(watermark, cut_through)`` of a registered sink; KeyError for another."""
        ...

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]:
        """Up to ``limit`` rows after ``after_seq``, in seq order (replayed rows carry their ``pii`` tag)."""
        ...

    def read(self, seqs: Sequence[int]) -> list[StoredRow]:
        """The rows of ``seqs`` still held, in the given order (re-cutting a recorded batch)."""
        ...

    def open_batches(self, sink: str) -> list[BatchRecord]:
        """The sink's recorded, unsettled batches, oldest first."""
        ...

    def adopted_batches(self, sink: str) -> list[BatchRecord]:
        """Batches another process recorded and this one took over since the last call (a fleet's dead member's), to resend as
        recorded; never any for a store with one deliverer."""
        ...

    def record_cut(self, sink: str, batches: Sequence[NewBatch], dead: Sequence[DeadItem], cut_through: int) -> list[BatchRecord]:
        """In one transaction: record ``batches`` (keys as given), dead-letter ``dead``, move cut_through.

        Returns the records in the order given; ``[]`` and nothing written when the sink's
        cut_through is already past ``cut_through`` (drop_oldest moved it meanwhile).
        """
        ...

    def replace_batch(self, batch: BatchRecord, parts: Sequence[NewBatch]) -> list[BatchRecord]:
        """In one transaction: replace a recorded batch by ``parts`` (a split); ``[]`` when it is gone."""
        ...

    def settle(
        self,
        batch: BatchRecord,
        *,
        delivered: int = 0,
        duplicates: int = 0,
        dead: Sequence[DeadItem] = (),
        remaining: Sequence[int] = (),
    ) -> bool:
        """In one transaction: count, dead-letter ``dead``, keep only ``remaining`` (none: the batch is done).

        The watermark advances past the batch once nothing of it remains. False (nothing written)
        when the batch no longer exists (drop_oldest dropped it meanwhile).
        """
        ...

    def note_attempt(self, sink: str, *, state: str, error: str | None, retried: bool) -> None:
        """Persist the sink's state after an attempt (``authlog status`` without a sidecar shows it)."""
        ...

    def probe_write(self) -> None:
        """A small write (undone) to see whether a store that failed a write takes writes again."""
        ...


class Buffer(DeliverySource, Protocol):
    """A durable store of events with one cursor per sink, recorded batches and a DLQ per sink."""

    store_id: str  # made when the store was created: destination keys built from seqs add it to stay unique
    schema_version: int  # the layout this code writes (the delivery lock tells other processes)
    location: str  # where the store lives, for messages (a file, a URL)
    fault: BufferError | None  # the last write failure, until a write commits again
    on_fault: Callable[[str], None] | None  # called with the kind of each failure (metrics)

    # -- appending ------------------------------------------------------------------------
    def append(self, events: Sequence[tuple[Event, bytes]], *, only_sink: str | None = None) -> int:
        """Durably commit ``(event, stored bytes)`` pairs in one transaction; return the last seq (0 for none).

        ``only_sink`` marks every row for that sink alone (a DLQ replay: other sinks skip it).
        Applies each sink's ``when_full`` first; raises BufferFullError (nothing written) when there is no room.
        """
        ...

    def append_deduplicated(self, events: Sequence[tuple[Event, bytes]], *, only_sink: str | None = None) -> tuple[int, int]:
        """``append``, and how many of the events the store already held (by event id; 0 for a store that keeps every copy)."""
        ...

    # -- reading ------------------------------------------------------------------------
    def routing_counts(self, after_seq: int, through_seq: int) -> list[RoutingCount]:
        """How many rows in ``(after_seq, through_seq]`` carry each set of routing columns (bodies unread)."""
        ...

    # -- delivering ---------------------------------------------------------------------
    def delivery_source(self, sink: str) -> DeliverySource:
        """Where the delivery core reads, records and settles ``sink``'s batches in this process (see the module docstring)."""
        ...

    # -- sinks ---------------------------------------------------------------------------
    def register_sinks(self, policies: Iterable[SinkPolicy], *, remove_others: bool = True) -> list[str]:
        """The deliverer's sinks (lock holder only): create missing positions, write policies; return those dropped.

        A new sink starts at ``start_at`` (at the oldest event on a store no sink was ever registered
        on). A stored sink missing from ``policies`` is dropped only when it holds nothing, else
        SinkRemovedError and nothing changes.
        """
        ...

    def use_routes(self, routes: Mapping[str, Callable[[StoredRow], bool]]) -> None:
        """Each sink's route filter, so drop_oldest counts only events the sink routes."""
        ...

    def stored_policies(self) -> dict[str, tuple[str, str, int | None]]:
        """``{sink: (type, when_full, max_backlog)}`` as the deliverer registered them."""
        ...

    def forget_sink(self, sink: str) -> int:
        """Drop a sink's position and open batches on purpose (needs the lock); return the events it loses."""
        ...

    def forgotten_sinks(self) -> dict[str, int]:
        """``{sink: events dropped when it was forgotten}``."""
        ...

    def sinks(self) -> list[SinkRow]:
        """Every registered sink's position, counters and events in flight (in open batches), by name."""
        ...

    def stats(self) -> dict[str, int]:
        """``events``, ``bytes`` (events and dead letters), ``maxBytes``, ``deadLetters``, ``lastSeq``."""
        ...

    def fleet_status(self) -> dict[str, object] | None:
        """What status adds for a store shared by a fleet (members, per-sink consumer figures); None for a one-machine store."""
        ...

    # -- the delivery lock ------------------------------------------------------------------
    def acquire_delivery_lock(self) -> bool:
        """Become the one process that delivers from this store; False when another holds it."""
        ...

    def require_delivery_lock(self) -> None:
        """acquire_delivery_lock, or BufferLockedError naming the holder."""
        ...

    def delivery_holder(self) -> tuple[str, int] | None:
        """``(pid, schema version)`` of another process holding the lock; None when this one or nobody does."""
        ...

    def release_delivery_lock(self) -> None:
        """Give the lock back (another process may deliver from now on)."""
        ...

    # -- dead letters ----------------------------------------------------------------------
    def dead_letters(self, sink: str | None = None, limit: int = 100, after_id: int = 0) -> list[DeadLetter]:
        """Dead letters by id (of one sink, or all), each shown as its sink may see it."""
        ...

    def dead_letter_count(self, sink: str | None = None) -> int:
        """How many dead letters (of one sink, or all)."""
        ...

    def dead_letter_tags(self, sink: str) -> dict[str | None, int]:
        """How many of a sink's dead letters carry each PII tag (None: stored raw)."""
        ...

    def replay_dead_letters(self, sink: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-queue the sink's dead letters present now as events for that sink only (as ``append(..., only_sink=sink)``
        does), each chunk in one transaction with their removal from the DLQ; return how many."""
        ...

    def append_replayed(self, events: Sequence[tuple[Event, bytes, str | None]], *, only_sink: str, checkpoint: tuple[str, str],
                        expected: str | None) -> int:
        """An archive replay's chunk (``authlog replay``): ``(event, stored bytes, pii tag or None)`` appended as
        ``append(..., only_sink=...)`` does (replayed rows carry their tag), and ``checkpoint`` = (name, value)
        written, in ONE transaction (events and empty chunks alike); return the last seq.

        ``expected`` is the checkpoint's value as the run last saw or wrote it (None: none yet); when the store
        holds another, a second run is queueing the same events: ReplayConflictError and nothing written."""
        ...

    def replay_checkpoints(self, run: str) -> dict[str, str]:
        """The checkpoints written under ``run + "."`` by append_replayed: {rest of the name: value}."""
        ...

    def purge_dead_letters(self, sink: str | None = None, older_than: float | None = None) -> int:
        """Delete dead letters (of one sink or all, older than ``older_than`` seconds); return how many."""
        ...

    def convert_dead_letters(self, converters: Mapping[str, Callable[[bytes, str], tuple[bytes, str, str]]]) -> dict[str, int]:
        """Rewrite each sink's raw dead letters with ``converters[sink]``; return ``{sink: converted}``."""
        ...

    def raw_dead_letters(self) -> dict[str, int]:
        """Dead letters still stored raw, by sink."""
        ...

    # -- health and life cycle ----------------------------------------------------------------
    def close(self) -> None:
        """Close this process's handles and give the delivery lock back."""
        ...
