"""The opt-in spool (``[buffer] spool = "PATH"``): a member's local embedded store for when the cluster does not answer.

An append the cluster does not acknowledge (unreachable, no quorum) is committed to the spool
instead (a :class:`~shippers.buffer.sqlite.SqliteBuffer` at PATH, capped by ``spool_max_bytes``),
so the producer still gets its 202 after a durable local commit. One process using the spool
forwards what it holds to the stream, oldest first, with each event's id as its ``Nats-Msg-Id``:
every process with a spool runs the forwarding thread, and the one holding the spool's lock
forwards (a member's delivering or ingest process, or an app that only publishes: it acknowledged
the events, so it must not leave them behind); the others try the lock at each poll, so one that
exits hands the forwarding on::

    spool (SQLite, one sink "stream")  --record the chunk--> publish to the stream --acks--> settle

A chunk is recorded before it is published and settled after the stream acknowledged it, so a
crash in between publishes it again at the next start (the stream drops what it already holds
within its duplicate window; the destinations' ids do the rest). A full stream is not spooled: it
is refused (503), as without a spool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from shippers.buffer.records import DeadItem, NewBatch, SinkPolicy, StoredRow
from shippers.buffer.sqlite import SqliteBuffer
from shippers.errors import BufferError
from shippers.event import Event, decode_event

log = logging.getLogger("shippers.buffer")

SINK = "stream"  # the spool's one sink: the JetStream stream
# Why: how often the forwarder looks for spooled events (and tries a cluster that was away again).
FORWARD_POLL_SECONDS = 1.0
# Why: one publish round of this many events (each waits for the stream's acks), as one ingest request.
FORWARD_CHUNK = 1000

Publish = Callable[[Sequence[tuple[Event, bytes]]], tuple[int, int]]


class Spool:
    """The member's local store for an outage, and the thread that forwards it once the cluster answers."""

    def __init__(self, path: str, max_bytes: int, clock: Callable[[], float]) -> None:
        self.store = SqliteBuffer(Path(path), max_bytes=max_bytes, clock=clock)
        self.forwarded = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, events: Sequence[tuple[Event, bytes]]) -> int:
        """Commit events the cluster did not acknowledge (durable on return); raises the store's errors (full...)."""
        return self.store.append(events)

    def waiting(self) -> int:
        """Events in the spool not forwarded yet (0 when this process does not forward)."""
        try:
            row = next((r for r in self.store.sinks() if r.name == SINK), None)
        except BufferError:
            return 0
        return 0 if row is None else row.lag_events

    def start_forwarding(self, publish: Publish) -> None:
        """Forward from now on, on a thread, whenever no other process using this spool does (idempotent)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._forward_forever, args=(publish,), name="authlog-spool", daemon=True)
        self._thread.start()

    def _forward_forever(self, publish: Publish) -> None:
        forwarding = False
        while not self._stop.is_set():
            try:
                if not forwarding and self.store.acquire_delivery_lock():
                    self.store.register_sinks([SinkPolicy(SINK, "jetstream", "block", None, "oldest")])
                    forwarding = True
                while forwarding and self.forward_once(publish):
                    pass
            except BufferError as exc:  # the cluster is still away (or the spool failed): try again at the next poll
                log.debug("spool: not forwarded yet: %s", exc)
            self._stop.wait(FORWARD_POLL_SECONDS)

    def forward_once(self, publish: Publish) -> int:
        """Publish the oldest recorded or spooled chunk; return how many events went (0: nothing waits)."""
        batches = self.store.open_batches(SINK)
        if batches:
            batch = batches[0]
            rows = self.store.read(batch.seqs)
        else:
            _, cut_through = self.store.position(SINK)
            rows = self.store.scan(cut_through, FORWARD_CHUNK)
            if not rows:
                return 0
            [batch] = self.store.record_cut(SINK, [NewBatch("", None, [row.seq for row in rows])], [], rows[-1].seq)
        events, dead = _decoded(rows)
        if events:
            publish(events)
        self.store.settle(batch, delivered=len(events), dead=dead)
        self.forwarded += len(events)
        return len(rows)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(FORWARD_POLL_SECONDS * 10)
        self.store.close()


def _decoded(rows: Sequence[StoredRow]) -> tuple[list[tuple[Event, bytes]], list[DeadItem]]:
    """The rows as (event, stored bytes) to publish; one that does not decode goes to the spool's DLQ, never the stream."""
    events, dead = [], []
    for row in rows:
        try:
            events.append((decode_event(row.body), row.body))
        except Exception as exc:
            dead.append(DeadItem(row.seq, "undecodable", f"the spooled event does not decode: {type(exc).__name__}", row.body))
    return events, dead
