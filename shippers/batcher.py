"""Cutting batches for one sink: scan the buffer past the sink's cursor, route, map, size, partition.

Pure over what it is given (rows, an adapter, limits, now) except for the buffer reads in
:meth:`Batcher.scan`; recording the cut is the worker's job. A cut happens when a batch is
full (events or bytes) or its oldest event has waited ``timeout`` (or a flush asks for it).

The wait is measured on the monotonic clock from when this process first saw the event, never
from its stored ``received`` wall time: a wall clock stepped an hour back would otherwise hold a
batch for an hour, and a day forward would cut every waiting batch at once. An event is "seen"
when a scan reads it, or earlier when a full scan found the store already holding it (the
backlog behind a full batch). Events already stored when this worker started (a restart, a
standby taking over) count as seen long ago: they have waited at least the downtime, so they are
due at once rather than ``timeout`` after the restart.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.contract import Adapter, BatchLimits, Request
from shippers.buffer import BatchRecord, DeadItem, SqliteBuffer, StoredRow
from shippers.buffer.records import UNDECODABLE_TAG
from shippers.event import Event, decode_event, encode_event
from shippers.pii import SinkPii, scrub
from shippers.routing import Route

# Why: rows are read in chunks so a sink far behind never loads its whole backlog at once.
SCAN_CHUNK = 2000
# Dead-letter codes (metric label values): why the core put an event in a DLQ.
CODE_INVALID = "invalid_for_destination"  # check_item refused it before sending
CODE_REJECTED = "rejected_by_destination"  # the destination refused this item
CODE_REQUEST_REJECTED = "request_rejected"  # the destination refused the whole request
CODE_TOO_LARGE = "too_large"  # a single item still too large after splitting
CODE_UNDECODABLE = "undecodable"  # the stored bytes do not decode (bit rot, a foreign writer): kept as stored, withheld


@dataclass(frozen=True, slots=True)
class Mapped:
    """One routed event, mapped for the sink."""

    row: StoredRow
    event: Event
    doc: object
    item: bytes
    stored: Event  # the row as decoded (before the PII policy), for dead letters


@dataclass
class Scan:
    rows: list[StoredRow]
    scanned_through: int  # the cursor after this scan (includes rows the route skipped)
    full: bool
    start: int = 0  # the cut_through this scan started from
    size: int = 0  # stored bytes of the rows
    first_seen: float = math.inf  # monotonic time this process first saw rows[0] (inf: no rows)


@dataclass
class Cut:
    """What one cut produced: batches to record and send, and events dead-lettered before sending."""

    groups: list[tuple[str, list[Mapped]]]
    dead: list[DeadItem]
    scanned_through: int


class Batcher:
    """Turns stored rows into batches for one sink."""

    def __init__(
        self,
        adapter: Adapter,
        route: Route,
        limits: BatchLimits,
        pii: SinkPii | None = None,
        lookahead: int = 1,
    ) -> None:
        self.adapter = adapter
        self.route = route
        hard = adapter.hard_limits
        self.max_events = min(limits.max_events, hard.max_events)
        self.max_bytes = min(limits.max_bytes, hard.max_bytes)
        # With concurrency = N one cut reads up to N batches' worth, so N requests can be in flight.
        self.scan_events = self.max_events * lookahead
        self.scan_bytes = self.max_bytes * lookahead
        self.timeout = limits.timeout
        self.pii = pii or SinkPii()
        self.transform = self.pii.transform
        self._pending: Scan | None = None
        # (seq, monotonic time): every seq <= seq was in the store by then; ascending seqs.
        self._seen: list[tuple[int, float]] = []

    def note_backlog(self, last_seq: int) -> None:
        """Events up to ``last_seq`` were stored before this worker started: due at once (module docstring)."""
        self._note_seen(last_seq, -math.inf)

    def _note_seen(self, seq: int, now: float) -> None:
        if not self._seen or seq > self._seen[-1][0]:
            self._seen.append((seq, now))

    def _seen_at(self, seq: int, now: float) -> float:
        """When this process first knew ``seq`` was stored; ``now`` when it is being read for the first time."""
        index = bisect.bisect_left(self._seen, seq, key=lambda entry: entry[0])
        return self._seen[index][1] if index < len(self._seen) else now

    def scan(self, buffer: SqliteBuffer, after_seq: int, now: float) -> Scan:
        """Routed rows after the cursor, up to one batch's worth (bytes estimated from stored size).

        A scan that was not due yet is kept and extended by the next call, so a large batch
        filling up slowly (S3: 100k events, 60 s) is read once, not once per wake-up. ``now`` is
        the monotonic time of this look, the "first seen" of rows read for the first time.
        """
        pending = self._pending
        if pending is not None and pending.start == after_seq:
            rows, size, cursor, first_seen = pending.rows, pending.size, pending.scanned_through, pending.first_seen
        else:
            rows, size, cursor, first_seen = [], 0, after_seq, math.inf
        del self._seen[: bisect.bisect_right(self._seen, after_seq, key=lambda entry: entry[0])]  # cut already
        full = False
        while not full:
            # no more than the batch still needs: a scan past it is thrown away and read again by the next cut
            chunk = buffer.scan(cursor, min(SCAN_CHUNK, self.scan_events - len(rows)))
            if not chunk:
                break
            for row in chunk:
                cursor = row.seq
                if not self.route.takes(row):
                    continue
                rows.append(row)
                size += len(row.body)
                if len(rows) >= self.scan_events or size >= self.scan_bytes:
                    full = True
                    break
        if full:  # rows past a full batch are stored already: their wait starts now, not when a later scan reads them
            self._note_seen(buffer.last_seq(), now)
        if rows and first_seen == math.inf:
            first_seen = self._seen_at(rows[0].seq, now)
        self._pending = Scan(rows, cursor, full, after_seq, size, first_seen)
        return self._pending

    def forget_scan(self) -> None:
        """The scanned rows were cut (or the cursor moved): the next scan starts afresh."""
        self._pending = None

    def due(self, scan: Scan, now: float, flush: bool) -> bool:
        """Whether to cut at monotonic time ``now``; otherwise wait until ``deadline``."""
        return scan.full or flush or (bool(scan.rows) and self.deadline(scan) <= now)

    def deadline(self, scan: Scan) -> float:
        """Monotonic time at which the oldest row has waited ``timeout`` since this process first saw it."""
        return scan.first_seen + self.timeout

    def map_row(self, row: StoredRow, stored: Event) -> Mapped:
        """From ``stored`` (the row decoded, see ``_decode``): apply the sink's PII policy (once: a replayed dead
        letter carries it already), map, encode."""
        event = stored
        if row.pii is not None:  # a replayed dead letter: its body is the sink's view already
            event = self.pii.view(event, row.pii)[0]
        elif self.transform is not None:
            event = self.transform(event)
        elif self.adapter.archive_line:
            return Mapped(row, event, event, row.body, stored)  # the stored bytes are already the archive line
        doc = self.adapter.map(event)
        return Mapped(row, event, doc, self.adapter.encode_item(doc), stored)

    def dead_letter(
        self, row: StoredRow, code: str, reason: str, mapped: Mapped | None = None, *, stored: Event | None = None
    ) -> DeadItem:
        """A dead letter holding only what this sink may see: the mapped event, or the row with the policy applied.

        The reason is scrubbed too: a text quoting a value the policy hides (an adapter or policy
        error message) shows the sink's version of it instead. Give ``mapped`` when the row was mapped,
        else ``stored`` (the row decoded by ``_decode``; an undecodable row is its own dead letter).
        """
        if mapped is not None:
            stored = mapped.stored
        assert stored is not None, "dead_letter needs the mapped row or the decoded one"
        shown, tag = self.pii.safe_view(stored, row.pii)
        if mapped is not None:
            shown = mapped.event  # the same view (map_row made it), as sent
        body = row.body if shown is stored else encode_event(shown)
        return DeadItem(row.seq, code, scrub(reason, stored, shown), body, tag)

    @staticmethod
    def _decode(row: StoredRow) -> Event | DeadItem:
        """The stored event, or its ``undecodable`` dead letter: the bytes as stored, tagged so no view shows them.

        The reason names the error's type only: a decoder's message may quote the bytes.
        """
        try:
            return decode_event(row.body)
        except Exception as exc:
            reason = f"the stored event does not decode ({type(exc).__name__}); it is kept as stored and withheld from every view"
            return DeadItem(row.seq, CODE_UNDECODABLE, reason, bytes(row.body), UNDECODABLE_TAG)

    def cut(self, scan: Scan, now: float) -> Cut:
        """Map, check and partition the scanned rows into batches within the limits."""
        dead: list[DeadItem] = []
        by_partition: dict[str, list[Mapped]] = {}
        for row in scan.rows:
            stored = self._decode(row)
            if isinstance(stored, DeadItem):
                dead.append(stored)
                continue
            try:
                mapped = self.map_row(row, stored)
                problem = self.adapter.check_item(mapped.event, mapped.item, now)
                partition = self.adapter.partition(mapped.event) if problem is None else ""
            except Exception as exc:  # an adapter bug must cost one event, not the stream
                dead.append(self.dead_letter(row, CODE_INVALID, _adapter_failure(exc), stored=stored))
                continue
            if problem is not None:
                dead.append(self.dead_letter(row, CODE_INVALID, problem, mapped))
                continue
            by_partition.setdefault(partition, []).append(mapped)
        groups: list[tuple[str, list[Mapped]]] = []
        for partition, items in by_partition.items():
            groups += [(partition, part) for part in self.split_by_limits(items)]
        return Cut(groups, dead, scan.scanned_through)

    def split_by_limits(self, items: Sequence[Mapped]) -> list[list[Mapped]]:
        parts: list[list[Mapped]] = []
        current: list[Mapped] = []
        size = 0
        for mapped in items:
            if current and (len(current) >= self.max_events or size + len(mapped.item) > self.max_bytes):
                parts.append(current)
                current, size = [], 0
            current.append(mapped)
            size += len(mapped.item)
        if current:
            parts.append(current)
        return parts

    def request(self, batch: BatchRecord, items: Sequence[Mapped]) -> Request:
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

    def rebuild(self, buffer: SqliteBuffer, batch: BatchRecord) -> tuple[list[Mapped], list[DeadItem]]:
        """Re-cut a recorded batch after a restart: the same seqs, the same key, the same documents.

        Rows that no longer map (an adapter upgrade, a changed PII policy) come back as dead items.
        """
        mapped: list[Mapped] = []
        failed: list[DeadItem] = []
        for row in buffer.read(batch.seqs):
            stored = self._decode(row)
            if isinstance(stored, DeadItem):
                failed.append(stored)
                continue
            try:
                mapped.append(self.map_row(row, stored))
            except Exception as exc:
                failed.append(self.dead_letter(row, CODE_INVALID, _adapter_failure(exc), stored=stored))
        return mapped, failed


def _adapter_failure(exc: Exception) -> str:
    return f"the adapter failed on this event: {type(exc).__name__}: {exc}"
