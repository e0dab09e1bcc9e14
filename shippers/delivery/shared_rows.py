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
(adapters' ``map`` is pure: ``shippers.testing.contract``). A sink decodes the rows of a scan when it
cuts them, which may be several scans later (a batch filling up until its timeout), when every sink's
scan cursor has moved past them and the window has dropped them: so a decoded event outlives its row
by up to DECODED_BEHIND rows. A row further behind is decoded on its own, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import UNDECODABLE_TAG, DeadItem, StoredRow
from shippers.delivery.codes import CODE_UNDECODABLE
from shippers.event import Event, EventKeys, decode_event, decode_event_keys

# Why: sinks that run at different speeds drift apart by thousands of rows while producers outpace them;
# a sink stuck in a retry falls out of the window instead of pinning it (its later scans read the store).
# A ~300-byte sample row with its decoded event is ~2.1 KB in memory (tracemalloc), so at most ~42 MB.
WINDOW_ROWS = 20_000
# Why: a sink's pending scan holds up to one batch per request it may have in flight (by default 2000 events
# for Elasticsearch and Cloud Logging, 1000 for Datadog, x a concurrency of 2) that it decodes only when it cuts them; without
# this the window dropped their decodes first and each sink decoded them again (~23k of 100k rows in the
# sidecar fan-out). A decoded ~300-byte sample event is ~1.5 KB, so at most ~6 MB more.
DECODED_BEHIND = 4000
# Why: a decode that raced a trim may leave its entry below what is kept; a few are harmless, and past this
# many the dict is swept (rare: each one needs a trim between a decode's check and its store).
STRAY_DECODED = 1000


def decode_row(row: StoredRow) -> Event | DeadItem:
    """The stored event, or its ``undecodable`` dead letter: the bytes as stored, tagged so no view shows them.

    The reason names the error's type only: a decoder's message may quote the bytes.
    """
    try:
        return decode_event(row.body)
    except Exception as exc:
        return _undecodable(row, exc)


def decode_row_keys(row: StoredRow) -> Event | EventKeys | DeadItem:
    """:func:`decode_row` for an archive-line sink that reads only the keys: the row's EventKeys, or the whole event
    when the row is a replayed dead letter (its PII tag is applied to the whole event: RowMapper.map_row)."""
    if row.pii is not None:
        return decode_row(row)
    try:
        return decode_event_keys(row.body)
    except Exception as exc:
        return _undecodable(row, exc)


def _undecodable(row: StoredRow, exc: Exception) -> DeadItem:
    reason = f"the stored event does not decode ({type(exc).__name__}); it is kept as stored and withheld from every view"
    return DeadItem(row.seq, CODE_UNDECODABLE, reason, bytes(row.body), UNDECODABLE_TAG)


class SharedRows:
    """The window of rows (and their decoded events) shared by the sinks of one process; see the module docstring."""

    def __init__(self, buffer: Buffer, window_rows: int = WINDOW_ROWS, decoded_behind: int = DECODED_BEHIND) -> None:
        self.buffer = buffer
        self.window_rows = window_rows
        self.decoded_behind = decoded_behind
        self._lock = threading.Lock()
        self._rows: list[StoredRow] = []  # contiguous seqs: _rows[i].seq == _first + i
        self._first = 0
        # seq -> its row decoded (rows never change: any row of that seq), from decoded_behind rows below the window
        self._decoded: dict[int, Event | DeadItem] = {}
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
        """``Buffer.scan(after_seq, limit)`` for ``sink``: from the window where it holds the rows, else the store.

        The store is read outside the lock, so sinks served from the window never wait for another's read;
        what a read brings past the window's end is appended (two sinks reading the same rows at once keep
        one copy), and a read that does not join the window (ahead of it) starts a new one.
        """
        with self._lock:
            self._cursors[sink] = after_seq
            rows, first = self._rows, self._first
            last = first + len(rows) - 1
            if rows and first - 1 <= after_seq <= last:  # inside the window: what it holds, the rest from its end
                start = after_seq + 1 - first
                have = rows[start : start + limit]
                if len(have) == limit:
                    self._trim()
                    return have
                read_after = last
            elif rows and after_seq < first - 1:  # behind the window: this sink reads the store itself
                read_after, have = -1, []
            else:  # ahead of the window (or none yet): it starts again here
                read_after, have = after_seq, []
        if read_after < 0:
            return self._read(after_seq, limit)
        more = self._read(read_after, limit - len(have))
        if more and more[0].seq != read_after + 1:  # rows deleted past the window's end (all sinks forgotten)
            with self._lock:
                self._restart([])
            return self._read(after_seq, limit)
        with self._lock:
            self._join(more)
            self._trim()
        return have + more

    def decode(self, row: StoredRow) -> Event | DeadItem:
        """``decode_row(row)``, once per row of the window (or just behind it) whichever sinks ask (no lock: dict
        reads and writes are atomic)."""
        decoded = self._decoded.get(row.seq)
        if decoded is not None:
            return decoded
        decoded = decode_row(row)
        first = self._first
        if first - self.decoded_behind <= row.seq < first + len(self._rows):  # kept while the window holds the seq, or just passed it
            self._decoded[row.seq] = decoded
        return decoded

    def _read(self, after_seq: int, limit: int) -> list[StoredRow]:
        rows = self.buffer.scan(after_seq, limit)
        self.store_reads += len(rows)  # a count for tests and benchmarks (not exact under concurrent reads)
        return rows

    def _join(self, more: list[StoredRow]) -> None:
        """Append the rows of a store read that lie past the window's end; a read that does not touch it restarts it."""
        if not more:
            return
        rows = self._rows
        last = self._first + len(rows) - 1
        if not rows or more[0].seq > last + 1:
            self._restart(more)
        elif more[-1].seq > last:
            rows.extend(more[last + 1 - more[0].seq :])

    def _restart(self, rows: Sequence[StoredRow]) -> None:
        """A new window of ``rows``; the decodes just behind its start are kept (sinks' pending scans still cut them)."""
        self._rows = list(rows)
        self._first = rows[0].seq if rows else 0
        if not rows:  # rows deleted past the window's end: nothing is read through it until it starts again
            self._decoded.clear()
            return
        self._forget_decoded_behind()

    def _forget_decoded_behind(self) -> None:
        """Drop the decodes more than ``decoded_behind`` rows below the window's start."""
        keep_from = self._first - self.decoded_behind
        self._decoded = {seq: event for seq, event in self._decoded.items() if seq >= keep_from}

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
        behind = self.decoded_behind
        for seq in range(self._first - behind, self._first + drop - behind):  # now more than `behind` below the window
            self._decoded.pop(seq, None)
        del rows[:drop]
        self._first += drop
        if len(self._decoded) > len(rows) + behind + STRAY_DECODED:  # decodes that raced a trim left entries below
            self._forget_decoded_behind()


class SinkRows:
    """One sink's reads through the shared window: ``scan`` as ``Buffer.scan``; ``last_seq`` from the store."""

    def __init__(self, shared: SharedRows, sink: str) -> None:
        self.shared = shared
        self.sink = sink

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]:
        return self.shared.scan(self.sink, after_seq, limit)

    def last_seq(self) -> int:
        return self.shared.buffer.last_seq()
