"""One sink's delivery source on this member: the fleet's durable pull consumer, seen as the core's cursor.

The delivery core (scan -> cut -> record -> deliver -> settle) works on one cursor per sink over
contiguous seqs. On JetStream many members share the sink's consumer, each one is handed a share
of its messages, and a message not acknowledged within ``ack_wait`` goes to another member. So each
member numbers the messages it fetched with its *own* seqs 1, 2, 3... (stream seqs are not
contiguous for one member, and a redelivered message may be older than the last one it saw)::

    local seqs   (.., watermark]          acknowledged on the consumer (delivered, duplicate, dead-lettered, not routed)
                 (watermark, cut_through] fetched and cut: in a recorded batch (held, unacknowledged) or acknowledged
                 (cut_through, last]      fetched, not cut yet (held)

A batch is recorded in this member's memory; a batch with a destination key (S3) also in the cuts
bucket before it is sent (:mod:`.cuts`). If the member dies, its held messages are redelivered by the
consumer to the others after ``ack_wait`` (at-least-once): the member that gets every event of a
recorded keyed batch resends it as recorded, same key (``adopted_batches``); the others are cut
again as new events. While a member holds messages it renews their ack wait
(``in_progress``) every third of it. A message is acknowledged only once its sink settled it:
delivered, duplicate, dead-lettered (the letter is in the DLQ stream first), or not routed to it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shippers.buffer.jetstream.backlog import Backlogs
from shippers.buffer.jetstream.cuts import Adopting, Adoptions, CutRecord, CutRecords
from shippers.buffer.jetstream.link import Link
from shippers.buffer.jetstream.names import CODE, DEAD_AT, MSG_ID, ORIGIN_SEQ, PII, REASON, Names, stored_row
from shippers.buffer.records import BatchRecord, DeadItem, NewBatch, StoredRow

# Why: a scan that finds nothing waits this long for a message (the sink loop polls again after
# its idle wait); short, so a partial batch is timed from when it arrived, not from a long poll.
FETCH_WAIT_SECONDS = 0.05
# Why: header values are one line; a destination's reason longer than this is cut (the DLQ is for people).
REASON_MAX_CHARS = 1000
# Why: acks and renewals are published in groups of this many, then flushed, so a 100k-event
# batch does not queue 100k coroutines at once.
ACK_GROUP = 2000


@dataclass
class SinkCounters:
    """What this member did for the sink (status shows it beside the fleet-wide figures)."""

    delivered: int = 0
    duplicates: int = 0
    retries: int = 0
    dead_lettered: int = 0
    redelivered: int = 0  # messages this member was handed that another member (or an earlier try) had held
    dropped: int = 0  # acknowledged without sending: when_full = "drop_oldest" at the sink's cap
    state: str = "active"
    last_error: str | None = None
    last_delivery_at: float | None = None


class JetStreamSinkSource:
    """The delivery methods of :class:`~shippers.buffer.protocol.DeliverySource` for one sink on this member."""

    def __init__(self, link: Link, names: Names, sink: str, ack_wait: float, clock: Callable[[], float],
                 backlogs: Backlogs) -> None:
        self.link = link
        self.names = names
        self.sink = sink
        self.ack_wait = ack_wait
        self.clock = clock
        self.counters = SinkCounters()
        self.backlogs = backlogs
        self._lock = threading.Lock()
        self._msgs: dict[int, Msg] = {}  # local seq -> held (unacknowledged) message
        self._local_of: dict[int, int] = {}  # stream seq -> local seq of a held message (a redelivery to this member joins it)
        self._rows: dict[int, StoredRow] = {}
        self._last = 0
        self._cut_through = 0
        self._batches: dict[int, BatchRecord] = {}
        self._remaining: dict[int, set[int]] = {}
        self._next_batch = 1
        self._batch_of: dict[int, int] = {}  # local seq -> the open batch holding it
        self._record_of: dict[int, CutRecord] = {}  # batch id -> its record in the cuts bucket (keyed batches)
        self._withheld: set[int] = set()  # local seqs of a recorded batch being collected (adoptions): not scanned
        self._adopted: list[BatchRecord] = []  # collected whole: for the sink loop to resend
        self.cuts = CutRecords(link, names, sink)
        self.adoptions = Adoptions(time.monotonic)
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._closed = False
        link.submit(self._renew_forever())

    # -- reading ---------------------------------------------------------------------------
    def last_seq(self) -> int:
        with self._lock:
            return self._last

    def position(self, sink: str) -> tuple[int, int]:
        with self._lock:
            oldest = min((b.seqs[0] for b in self._batches.values()), default=None)
            return (self._cut_through if oldest is None else oldest - 1), self._cut_through

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]:
        """Held rows after ``after_seq``, then (up to ``limit``) messages fetched from the consumer now."""
        self._give_up_overdue()
        with self._lock:
            rows = [row for seq in range(after_seq + 1, self._last + 1) if (row := self._scannable(seq)) is not None][:limit]
        if len(rows) < limit and (not rows or rows[-1].seq == self.last_seq()):
            self._drop_oldest()
            rows += self._fetch(limit - len(rows))
        return rows

    def _drop_oldest(self) -> None:
        """when_full = "drop_oldest" past the sink's cap: acknowledge the oldest events without sending them, counted."""
        over = self.backlogs.events_over_cap(self.sink)
        while over > 0:
            messages = self.link.call(self._fetch_messages(min(over, ACK_GROUP)), f"dropping sink {self.sink!r}'s oldest events")
            if not messages:
                break
            self.link.call(self._ack_all(messages), f"dropping {len(messages)} event(s) of sink {self.sink!r}")
            with self._lock:
                self.counters.dropped += len(messages)
            over -= len(messages)
        self.backlogs.forget()

    def _scannable(self, seq: int) -> StoredRow | None:
        if seq in self._withheld or seq in self._batch_of:
            return None
        return self._rows.get(seq)

    def read(self, seqs: Sequence[int]) -> list[StoredRow]:
        with self._lock:
            return [row for seq in seqs if (row := self._rows.get(seq)) is not None]

    def _fetch(self, limit: int) -> list[StoredRow]:
        messages = self.link.call(self._fetch_messages(limit), f"fetching sink {self.sink!r}'s events")
        redelivered = [msg for msg in messages if msg.metadata.num_delivered > 1]
        recorded = self.cuts.load() if redelivered else {}
        rows = []
        with self._lock:
            self.counters.redelivered += len(redelivered)
            for msg in messages:
                if self._rejoin(msg):
                    continue
                local = self._hold(msg)
                record = recorded.get(msg.metadata.sequence.stream) if msg.metadata.num_delivered > 1 else None
                if record is None:
                    rows.append(self._rows[local])
                    continue
                self._withheld.add(local)
                adopting = self.adoptions.take(record, msg.metadata.sequence.stream, local)
                if adopting.complete:
                    self._adopt(adopting)
        return rows

    def _rejoin(self, msg: Msg) -> bool:
        """A message this member still holds, handed to it again (its ack wait ran out unrenewed): keep the held one, now
        answered through this latest delivery, rather than a second copy cut and sent again (the lock is held)."""
        local = self._local_of.get(msg.metadata.sequence.stream)
        if local is None or local not in self._msgs:
            return False
        self._msgs[local] = msg
        return True

    def _release(self, local: int) -> Msg | None:
        """Stop holding a message; it, if it was held (the lock is held)."""
        msg = self._msgs.pop(local, None)
        if msg is not None:
            self._local_of.pop(msg.metadata.sequence.stream, None)
        return msg

    def _hold(self, msg: Msg) -> int:
        """Number a fetched message with this member's next seq and hold it (the lock is held)."""
        self._last += 1
        self._msgs[self._last] = msg
        self._local_of[msg.metadata.sequence.stream] = self._last
        self._rows[self._last] = stored_row(self._last, msg.subject, msg.headers, msg.data, self.names)
        return self._last

    def _adopt(self, adopting: Adopting) -> None:
        """Every event of a recorded batch is here: hold it as that batch, for the sink loop to resend (the lock is held)."""
        record = adopting.record
        seqs = tuple(adopting.local[stream_seq] for stream_seq in record.stream_seqs)
        batch = self._open_batch(record.partition, record.key, seqs)
        self._record_of[batch.id] = record
        self._withheld.difference_update(seqs)
        self._adopted.append(batch)
        self.adoptions.finish(record.name)

    def _give_up_overdue(self) -> None:
        """Records only partly handed to this member: their events become new ones (new seqs, cut again), the record goes."""
        with self._lock:
            overdue = self.adoptions.overdue()
            for adopting in overdue:
                for local in adopting.local.values():
                    self._withheld.discard(local)
                    msg = self._release(local)
                    del self._rows[local]
                    if msg is not None:
                        self._hold(msg)
        self.cuts.delete([adopting.record.name for adopting in overdue])

    def _open_batch(self, partition: str, key: str | None, seqs: tuple[int, ...]) -> BatchRecord:
        """Register an open batch (the lock is held)."""
        record = BatchRecord(self._next_batch, self.sink, partition, key, seqs)
        self._next_batch += 1
        self._batches[record.id] = record
        self._remaining[record.id] = set(seqs)
        self._batch_of.update(dict.fromkeys(seqs, record.id))
        return record

    def _open_all(self, batches: Sequence[NewBatch], recorded: Sequence[CutRecord | None]) -> list[BatchRecord]:
        """Register new batches with their cuts-bucket records (the lock is held)."""
        records = []
        for batch, cut_record in zip(batches, recorded, strict=True):
            record = self._open_batch(batch.partition, batch.key, tuple(batch.seqs))
            if cut_record is not None:
                self._record_of[record.id] = cut_record
            records.append(record)
        return records

    def _stream_seqs(self, seqs: Sequence[int]) -> tuple[int, ...]:
        """The stream seqs of held local seqs (the lock is held)."""
        return tuple(self._msgs[seq].metadata.sequence.stream for seq in seqs if seq in self._msgs)

    def _records_for(self, batches: Sequence[NewBatch]) -> list[CutRecord | None]:
        """The cuts-bucket record of each keyed batch (None for a batch without a key) (the lock is held)."""
        out: list[CutRecord | None] = []
        for batch in batches:
            stream_seqs = self._stream_seqs(batch.seqs)
            out.append(CutRecord(self.cuts.name_for(stream_seqs), batch.partition, batch.key, stream_seqs)
                       if batch.key is not None and stream_seqs else None)
        return out

    async def _fetch_messages(self, limit: int) -> list[Msg]:
        if self._subscription is None:
            self._subscription = await self.link.js.pull_subscribe_bind(durable=self.sink, stream=self.names.stream)
        try:
            return await self._subscription.fetch(max(1, limit), timeout=FETCH_WAIT_SECONDS)
        except (nats.errors.TimeoutError, TimeoutError):  # nothing to hand out now (asyncio's timeout is the builtin one)
            return []

    # -- recording and settling --------------------------------------------------------------
    def adopted_batches(self, sink: str) -> list[BatchRecord]:
        with self._lock:
            adopted, self._adopted = self._adopted, []
            return adopted

    def open_batches_in_stream_seqs(self) -> list[BatchRecord]:
        """The open batches with the stream's seqs of their held events (for status: the stream can be read by them)."""
        with self._lock:
            return [BatchRecord(b.id, b.sink, b.partition, b.key, self._stream_seqs(sorted(self._remaining[b.id])))
                    for b in sorted(self._batches.values(), key=lambda b: b.id) if self._remaining[b.id]]

    def open_batches(self, sink: str) -> list[BatchRecord]:
        with self._lock:
            self._adopted = []  # a restart resends every open batch, the adopted ones too
            return [BatchRecord(b.id, b.sink, b.partition, b.key, tuple(s for s in b.seqs if s in self._remaining[b.id]))
                    for b in sorted(self._batches.values(), key=lambda b: b.id)]

    def record_cut(self, sink: str, batches: Sequence[NewBatch], dead: Sequence[DeadItem], cut_through: int) -> list[BatchRecord]:
        """Hold the batches' messages, dead-letter ``dead``, acknowledge the rest of the range (not routed here)."""
        with self._lock:
            if cut_through < self._cut_through:
                return []
            in_batches = {seq for batch in batches for seq in batch.seqs}
            done = [seq for seq in range(self._cut_through + 1, cut_through + 1)
                    if seq in self._msgs and seq not in in_batches and self._scannable(seq) is not None]
            recorded = self._records_for(batches)
        self.cuts.put([record for record in recorded if record is not None])  # before anything is sent
        self._dead_letter(dead)
        self._acknowledge(done)
        with self._lock:
            records = self._open_all(batches, recorded)
            self._cut_through = cut_through
            self.counters.dead_lettered += len(dead)
        return records

    def replace_batch(self, batch: BatchRecord, parts: Sequence[NewBatch]) -> list[BatchRecord]:
        with self._lock:
            if batch.id not in self._batches:
                return []
            recorded = self._records_for(parts)
            old = self._record_of.get(batch.id)
        self.cuts.put([record for record in recorded if record is not None])
        with self._lock:
            self._close_batch(batch.id)
            records = self._open_all(parts, recorded)
        if old is not None and old.name not in {r.name for r in recorded if r is not None}:
            self.cuts.delete([old.name])
        return records

    def _close_batch(self, batch_id: int) -> CutRecord | None:
        """Forget an open batch; its record, if it had one (the lock is held)."""
        self._batches.pop(batch_id, None)
        for seq in self._remaining.pop(batch_id, ()):
            self._batch_of.pop(seq, None)
        return self._record_of.pop(batch_id, None)

    def settle(self, batch: BatchRecord, *, delivered: int = 0, duplicates: int = 0, dead: Sequence[DeadItem] = (),
               remaining: Sequence[int] = ()) -> bool:
        """Dead-letter ``dead``, acknowledge what is settled, keep ``remaining`` held; False when the batch is gone."""
        with self._lock:
            left = self._remaining.get(batch.id)
            if left is None:
                return False
            keep = set(remaining)
            settled = [seq for seq in left if seq not in keep]
            cut_record = self._record_of.get(batch.id)
            rewritten = (CutRecord(cut_record.name, cut_record.partition, cut_record.key, self._stream_seqs(sorted(left & keep)))
                         if cut_record is not None and keep else None)
        if rewritten is not None:
            self.cuts.put([rewritten])  # before the acks: a takeover must never wait for events already settled
        self._dead_letter(dead)
        self._acknowledge(settled)
        with self._lock:
            gone = None
            if keep:
                self._remaining[batch.id] = left & keep
                for seq in settled:
                    self._batch_of.pop(seq, None)
                if rewritten is not None:
                    self._record_of[batch.id] = rewritten
            else:
                gone = self._close_batch(batch.id)
            counters = self.counters
            counters.delivered += delivered
            counters.duplicates += duplicates
            counters.dead_lettered += len(dead)
            if delivered or duplicates:
                counters.last_delivery_at = self.clock()
        if gone is not None:
            self.cuts.delete([gone.name])  # after the acks (a crash in between leaves a record nobody collects)
        return True

    def note_attempt(self, sink: str, *, state: str, error: str | None, retried: bool) -> None:
        with self._lock:
            self.counters.state, self.counters.last_error = state, error
            if retried:
                self.counters.retries += 1

    def probe_write(self) -> None:
        """Whether the stream has a leader again (a read of its state: nothing is written to a shared stream)."""
        self.link.call(self.link.js.stream_info(self.names.stream), "reading the stream's state")

    def held(self) -> int:
        """Messages this member holds unacknowledged for the sink."""
        with self._lock:
            return len(self._msgs)

    def close(self) -> None:
        """Hand back what this member holds (nak: the consumer gives it to another member now, not after ack_wait)."""
        self._closed = True
        with self._lock:
            held = list(self._msgs.values())
            self._msgs.clear()
            self._local_of.clear()
            self._rows.clear()
        if held:
            try:
                self.link.call(self._nak_all(held), f"handing back {len(held)} event(s) of sink {self.sink!r}")
            except Exception:  # the cluster is away: ack_wait hands them to another member instead
                pass

    async def _nak_all(self, messages: Sequence[Msg]) -> None:
        for start in range(0, len(messages), ACK_GROUP):
            await asyncio.gather(*(msg.nak() for msg in messages[start : start + ACK_GROUP]))
        await self.link.client.flush()

    # -- the network side ---------------------------------------------------------------------
    def _dead_letter(self, dead: Sequence[DeadItem]) -> None:
        if not dead:
            return
        with self._lock:
            origins = [self._msgs[item.seq].metadata.sequence.stream if item.seq in self._msgs else 0 for item in dead]
        self.link.call(self._publish_letters(dead, origins), f"dead-lettering {len(dead)} event(s) of sink {self.sink!r}")

    async def _publish_letters(self, dead: Sequence[DeadItem], origins: Sequence[int]) -> None:
        now = self.clock()
        subject = self.names.dlq_subject(self.sink)
        publishes = []
        for item, origin in zip(dead, origins, strict=True):
            headers = {MSG_ID: f"{self.sink}:{origin}" if origin else f"{self.sink}:{item.seq}:{time.time_ns()}",
                       CODE: item.code, REASON: _one_line(item.reason), ORIGIN_SEQ: str(origin), DEAD_AT: repr(now)}
            if item.pii is not None:
                headers[PII] = item.pii
            publishes.append(self.link.js.publish(subject, item.body, stream=self.names.dlq_stream, headers=headers))
        await asyncio.gather(*publishes)

    def _acknowledge(self, seqs: Sequence[int]) -> None:
        with self._lock:
            messages = [msg for seq in seqs if (msg := self._release(seq)) is not None]
            for seq in seqs:
                self._rows.pop(seq, None)
        if messages:
            self.link.call(self._ack_all(messages), f"acknowledging {len(messages)} event(s) of sink {self.sink!r}")

    async def _ack_all(self, messages: Sequence[Msg]) -> None:
        for start in range(0, len(messages), ACK_GROUP):
            await asyncio.gather(*(msg.ack() for msg in messages[start : start + ACK_GROUP]))
        await self.link.client.flush()

    async def _renew_forever(self) -> None:
        """Every third of ack_wait, tell the consumer this member still works on what it holds."""
        while not self._closed:
            await asyncio.sleep(self.ack_wait / 3)
            with self._lock:
                held = list(self._msgs.values())
            try:
                for start in range(0, len(held), ACK_GROUP):
                    await asyncio.gather(*(msg.in_progress() for msg in held[start : start + ACK_GROUP]))
            except Exception:  # disconnected: the messages may go to another member (at-least-once); try again later
                continue


def _one_line(text: str) -> str:
    return " ".join(text.split())[:REASON_MAX_CHARS]
