"""When to cut, for one sink: scan the buffer past the sink's cursor, keep the rows its route takes, time the wait.

The only store reads before a cut are here (:meth:`Scanner.scan`); what the cut makes of the rows
is :mod:`shippers.delivery.cut` (pure), recording it is the sink loop's. A cut happens when a
batch is full (events or bytes) or its oldest event has waited ``timeout`` (or a flush asks for it).

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
from dataclasses import dataclass
from typing import Protocol

from shippers.buffer import StoredRow
from shippers.delivery.cut import Limits
from shippers.routing import Route

# Why: rows are read in chunks so a sink far behind never loads its whole backlog at once.
SCAN_CHUNK = 2000


class RowSource(Protocol):
    """What a scan reads: the delivery source (the store, a fleet's consumer) or the fan-out's shared window (shippers.delivery.shared_rows)."""

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]: ...

    def last_seq(self) -> int: ...


@dataclass
class Scan:
    """The routed rows of the next cut, read so far (kept and extended while it is not due)."""

    rows: list[StoredRow]
    scanned_through: int  # the cursor after this scan (includes rows the route skipped)
    full: bool
    start: int = 0  # the cut_through this scan started from
    size: int = 0  # stored bytes of the rows
    first_seen: float = math.inf  # monotonic time this process first saw rows[0] (inf: no rows)


class Scanner:
    """Finds the rows of one sink's next cut and says when it is due."""

    def __init__(self, route: Route, limits: Limits, timeout: float, lookahead: int = 1) -> None:
        self.route = route
        # With concurrency = N one cut reads up to N batches' worth, so N requests can be in flight.
        self.scan_events = limits.max_events * lookahead
        self.scan_bytes = limits.max_bytes * lookahead
        self.timeout = timeout
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

    def scan(self, buffer: RowSource, after_seq: int, now: float) -> Scan:
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
        taken, scan_events, scan_bytes = self.route.taken, self.scan_events, self.scan_bytes  # per row: locals
        while not full:
            # no more than the batch still needs: a scan past it is thrown away and read again by the next cut
            chunk = buffer.scan(cursor, min(SCAN_CHUNK, scan_events - len(rows)))
            if not chunk:
                break
            cursor = chunk[-1].seq
            for row in taken(chunk):
                rows.append(row)
                size += len(row.body)
                if len(rows) >= scan_events or size >= scan_bytes:
                    full = True
                    cursor = row.seq  # the rows after it are the next scan's
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
