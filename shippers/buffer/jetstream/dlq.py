"""Dead letters on JetStream: the ``<stream>_DLQ`` stream, one subject per sink (``authlog-dlq.<stream>.<sink>``).

A letter's id is its DLQ stream seq; its headers carry the code, the (redacted) reason, when, the PII
tag its body carries, and the events stream seq it came from. Listing reads by seq (``get_msg``
next-by-subject); a replay re-publishes each letter present at its start to
``authlog.<stream>.only.<sink>`` (only that sink's consumer takes it), then deletes it from the DLQ.
The letters are written by this code with their sink's PII tag, so none is ever stored raw
(``raw_dead_letters`` is empty, ``convert_dead_letters`` converts nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from shippers.buffer.jetstream.link import Link
from shippers.buffer.jetstream.names import CODE, DEAD_AT, ORIGIN_SEQ, PII, REASON, Names, event_headers
from shippers.buffer.letters import decode_letter, shown_letter
from shippers.buffer.records import UNDECODABLE_TAG, DeadLetter
from shippers.errors import BufferError

# Why: a replay publishes (and waits for the acks of) this many letters before deleting them, so a
# replay stopped half-way leaves at most this many both replayed and still in the DLQ.
REPLAY_CHUNK = 500


class JetStreamDlq:
    """The DLQ stream of one events stream."""

    def __init__(self, link: Link, names: Names, clock: Callable[[], float]) -> None:
        self.link = link
        self.names = names
        self.clock = clock

    async def _next(self, after: int, sink: str | None) -> RawStreamMsg | None:
        try:
            return await self.link.js.get_msg(self.names.dlq_stream, seq=after + 1, subject=self.names.dlq_subject(sink), next=True)
        except NotFoundError:
            return None

    async def _letters(self, sink: str | None, limit: int, after: int, through: int | None = None) -> list[RawStreamMsg]:
        out: list[RawStreamMsg] = []
        while len(out) < limit:
            msg = await self._next(after, sink)
            if msg is None or msg.seq is None or (through is not None and msg.seq > through):
                break
            out.append(msg)
            after = msg.seq
        return out

    def _letter(self, msg: RawStreamMsg) -> DeadLetter:
        headers = msg.headers or {}
        return shown_letter(int(msg.seq or 0), self.names.sink_of_dlq_subject(msg.subject or ""), int(headers.get(ORIGIN_SEQ, "0")),
                            headers.get(CODE, ""), headers.get(REASON, ""), float(headers.get(DEAD_AT, "0")), msg.data or b"",
                            headers.get(PII))

    def dead_letters(self, sink: str | None, limit: int, after_id: int) -> list[DeadLetter]:
        messages = self.link.call(self._letters(sink, limit, after_id), "reading dead letters")
        return [self._letter(msg) for msg in messages]

    def counts(self) -> dict[str, int]:
        """Letters per sink."""
        info = self.link.call(self.link.js.stream_info(self.names.dlq_stream, subjects_filter=self.names.dlq_subjects),
                              "counting dead letters")
        return {self.names.sink_of_dlq_subject(subject): n for subject, n in (info.state.subjects or {}).items()}

    def stats(self) -> tuple[int, int]:
        """(letters, bytes) in the DLQ stream."""
        info = self.link.call(self.link.js.stream_info(self.names.dlq_stream), "reading the DLQ's state")
        return info.state.messages, info.state.bytes

    def tags(self, sink: str) -> dict[str | None, int]:
        tags: dict[str | None, int] = {}
        for letter in self.dead_letters(sink, 1_000_000, 0):
            tags[letter.pii] = tags.get(letter.pii, 0) + 1
        return tags

    def replay(self, sink: str, progress: Callable[[int, int], None] | None) -> int:
        """Re-queue the sink's letters present now for that sink alone; return how many.

        Refused while the sink has no consumer: the events stream (interest retention) would drop what no
        consumer wants as soon as it is published, and the letters would be deleted from the DLQ with it.
        """
        self._require_consumer(sink)
        total = self.counts().get(sink, 0)
        through = self.link.call(self.link.js.stream_info(self.names.dlq_stream), "reading the DLQ's state").state.last_seq
        done, after = 0, 0
        while True:
            chunk = self.link.call(self._letters(sink, REPLAY_CHUNK, after, through), f"reading sink {sink!r}'s dead letters")
            if not chunk:
                return done
            self.link.call(self._republish(sink, chunk), f"replaying {len(chunk)} dead letter(s) of sink {sink!r}")
            after = int(chunk[-1].seq or 0)
            done += sum(1 for msg in chunk if (msg.headers or {}).get(PII) != UNDECODABLE_TAG)
            if progress is not None:
                progress(done, total)

    def _require_consumer(self, sink: str) -> None:
        async def present() -> bool:
            try:
                await self.link.js.consumer_info(self.names.stream, sink)
            except NotFoundError:
                return False
            return True

        if not self.link.call(present(), f"reading sink {sink!r}'s consumer"):
            raise BufferError(
                f"sink {sink!r} has no consumer on the JetStream stream {self.names.stream!r} (removed, or no member with it started "
                "yet), so replayed letters would be dropped at once; start a member whose config has the sink, then replay; the "
                "letters stay in the DLQ")

    async def _republish(self, sink: str, chunk: list[RawStreamMsg]) -> None:
        publishes, replayed = [], []
        for msg in chunk:
            headers = msg.headers or {}
            event = decode_letter(msg.data or b"", headers.get(PII))
            if event is None:  # undecodable: kept as stored, never replayed
                continue
            publishes.append(self.link.js.publish(
                self.names.only_subject(sink), msg.data or b"", stream=self.names.stream,
                headers=event_headers(event.id, event.type, event.outcome, event.tenantId, self.clock(), headers.get(PII),
                                      msg_id=f"replay:{sink}:{msg.seq}")))
            replayed.append(int(msg.seq or 0))
        await asyncio.gather(*publishes)
        await asyncio.gather(*(self.link.js.delete_msg(self.names.dlq_stream, seq) for seq in replayed))

    def purge(self, sink: str | None, older_than: float | None) -> int:
        """Delete letters (of one sink or all; older than ``older_than`` seconds); return how many."""
        if older_than is None:
            counts = self.counts()
            count = counts.get(sink, 0) if sink is not None else sum(counts.values())
            subject = self.names.dlq_subject(sink) if sink is not None else None
            self.link.call(self.link.js.purge_stream(self.names.dlq_stream, subject=subject), "purging dead letters")
            return count
        cutoff = self.clock() - older_than
        old = [letter.id for letter in self.dead_letters(sink, 1_000_000, 0) if letter.at <= cutoff]

        async def delete() -> None:
            await asyncio.gather(*(self.link.js.delete_msg(self.names.dlq_stream, seq) for seq in old))

        self.link.call(delete(), "purging dead letters")
        return len(old)
