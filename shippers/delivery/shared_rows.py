"""One store read and one decode per stored row for every sink of this process (the fan-out's shared window).

Every sink scans the same rows in the same seq order, each at its own pace; without this each of
N sinks read and decoded each row itself (N store reads, N decodes). The window keeps the rows
the sinks of this process have read and not yet all passed::

      first                                         last
        |  rows read from the store once, in seq order  |
    ... [ r r r r r r r r r r r r r r r r r r r r r r r ] ... (rows after `last`: read on demand, appended)
           ^ slowest sink's scan cursor      ^ fastest sink's cursor
    rows below the slowest cursor are dropped; at most WINDOW_ROWS are kept (a stuck sink reads the store itself)

Why it is safe to serve a row from here instead of the store: a committed row never changes (seqs
are never reused, a replayed row's PII tag is committed with it), and a sink only asks for rows
above its ``cut_through``, which garbage collection never deletes (only ``drop_oldest`` moves a
sink's cursor past rows, which ``record_cut`` already guards against, as with a direct read).
A scan the window cannot answer (a sink behind it, or ahead of it) goes to the store as before.

Decoded events are kept by seq while the window holds the row (a row never changes, so any row of
that seq has that event), so each stored body is decoded once whichever sinks route it; a sink's PII policy and mapping then work on that shared Event, which nothing mutates
(adapters' ``map`` is pure: ``shippers.testing.contract``). A row the window no longer holds is
decoded on its own, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import UNDECODABLE_TAG, DeadItem, StoredRow
from shippers.delivery.codes import CODE_UNDECODABLE
from shippers.event import Event, decode_event

# Why: sinks that run at different speeds drift apart by thousands of rows while producers outpace them;
# a sink stuck in a retry falls out of the window instead of pinning it (its later scans read the store).
# A ~300-byte sample row with its decoded event is ~2.1 KB in memory (tracemalloc), so at most ~42 MB.
WINDOW_ROWS = 20_000


def decode_row(row: StoredRow) -> Event | DeadItem:
    """The stored event, or its ``undecodable`` dead letter: the bytes as stored, tagged so no view shows them.

    The reason names the error's type only: a decoder's message may quote the bytes.
    """
    try:
        return decode_event(row.body)
    except Exception as exc:
        reason = f"the stored event does not decode ({type(exc).__name__}); it is kept as stored and withheld from every view"
        return DeadItem(row.seq, CODE_UNDECODABLE, reason, bytes(row.body), UNDECODABLE_TAG)


class SharedRows:
    """The window of rows (and their decoded events) shared by the sinks of one process; see the module docstring."""

    def __init__(self, buffer: Buffer, window_rows: int = WINDOW_ROWS) -> None:
        self.buffer = buffer
        self.window_rows = window_rows
        self._lock = threading.Lock()
        self._rows: list[StoredRow] = []  # contiguous seqs: _rows[i].seq == _first + i
        self._first = 0
        self._decoded: dict[int, Event | DeadItem] = {}  # seq -> its row decoded (rows never change: any row of that seq)
        self._cursors: dict[str, int] = {}  # sink -> the `after` of its last scan
        self.store_reads = 0  # rows read from the store (for tests and benchmarks: N sinks, each row once)

    def for_sink(self, sink: str) -> SinkRows:
        """What one sink's scanner reads from (``scan`` and ``last_seq``, as on the store).

        Until its first scan the sink counts as needing every row, so the sinks that start first do not
        drop rows it is about to read (WINDOW_ROWS still bounds what it keeps).
        """
        with self._lock:
            self._cursors.setdefault(sink, -1)
        return SinkRows(self, sink)

    def scan(self, sink: str, after_seq: int, limit: int) -> list[StoredRow]:
        """``Buffer.scan(after_seq, limit)`` for ``sink``: from the window where it holds the rows, else the store."""
        with self._lock:
            self._cursors[sink] = after_seq
            rows = self._from_window(after_seq, limit)
            self._trim()
            return rows

    def decode(self, row: StoredRow) -> Event | DeadItem:
        """``decode_row(row)``, once per row of the window whichever sinks ask."""
        decoded = self._decoded.get(row.seq)
        if decoded is not None:
            return decoded
        decoded = decode_row(row)
        with self._lock:  # kept only while the window holds the seq (a trim drops its range of seqs)
            if self._first <= row.seq < self._first + len(self._rows):
                self._decoded[row.seq] = decoded
        return decoded

    def _read(self, after_seq: int, limit: int) -> list[StoredRow]:
        rows = self.buffer.scan(after_seq, limit)
        self.store_reads += len(rows)
        return rows

    def _from_window(self, after_seq: int, limit: int) -> list[StoredRow]:
        rows, first = self._rows, self._first
        last = first + len(rows) - 1
        if not rows or after_seq > last:  # ahead of the window (or none yet): it starts again here
            fresh = self._read(after_seq, limit)
            self._restart(fresh)
            return fresh
        if after_seq < first - 1:  # behind the window: this sink reads the store itself
            return self._read(after_seq, limit)
        start = after_seq + 1 - first
        missing = start + limit - len(rows)
        if missing > 0:
            more = self._read(last, missing)
            if more and more[0].seq != last + 1:  # rows deleted past the window's end (all sinks forgotten): start afresh
                self._restart([])
                return self._read(after_seq, limit)
            rows.extend(more)
        return rows[start : start + limit]

    def _restart(self, rows: Sequence[StoredRow]) -> None:
        self._decoded.clear()
        self._rows = list(rows)
        self._first = rows[0].seq if rows else 0

    def _trim(self) -> None:
        """Drop the rows every sink is past (at or below the slowest cursor), and any beyond WINDOW_ROWS."""
        rows = self._rows
        if not rows:
            return
        passed = min(self._cursors.values()) - self._first + 1
        drop = max(passed, len(rows) - self.window_rows)
        if drop <= 0:
            return
        drop = min(drop, len(rows))
        for seq in range(self._first, self._first + drop):
            self._decoded.pop(seq, None)
        del rows[:drop]
        self._first += drop


class SinkRows:
    """One sink's reads through the shared window: ``scan`` as ``Buffer.scan``; ``last_seq`` from the store."""

    def __init__(self, shared: SharedRows, sink: str) -> None:
        self.shared = shared
        self.sink = sink

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]:
        return self.shared.scan(self.sink, after_seq, limit)

    def last_seq(self) -> int:
        return self.shared.buffer.last_seq()
