"""The JetStream buffer: a :class:`~shippers.buffer.protocol.Buffer` over one replicated stream shared by a fleet.

Ingest: each event is published to ``authlog.<stream>.all`` with ``Nats-Msg-Id`` = its id, and
``append`` returns only once the stream acknowledged every one (stored on a quorum of its
replicas); it waits ``[buffer] emit_timeout`` (at least 1 s) for the acks after the last event is sent. An id the stream already holds within its duplicate window (120 s) is acknowledged as a
duplicate and counted (``append_deduplicated``). No answer (cluster unreachable, no quorum) is a
BufferUnavailableError, a full stream (``max_bytes``, discard new) a BufferFullError.

Delivery: each sink is one durable pull consumer (named as the sink) shared by every member;
:meth:`delivery_source` gives the core a per-member view of it (:mod:`.source`). There is no
delivery lock: every member delivers. A consumer is created by the first member that has the sink
(``start_at`` -> deliver policy new / all) and deleted only by ``forget_sink`` (``authlog fleet
remove-sink``), never because one member's config lacks it.

Seqs: the stream's own seqs for ``append``/``last_seq``/``scan``/``read`` (tools); a sink's
positions are the member's own numbering (see :mod:`.source`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck, StreamState

from shippers.buffer.jetstream.backlog import MAX_BACKLOG, WHEN_FULL, Backlogs
from shippers.buffer.jetstream.connection import (
    ROUTE,
    check_consumer,
    dlq_stream_config,
    ensure_stream,
    events_stream_config,
    route_conflict,
)
from shippers.buffer.jetstream.cuts import ensure_bucket
from shippers.buffer.jetstream.dlq import JetStreamDlq
from shippers.buffer.jetstream.link import Link
from shippers.buffer.jetstream.members import Members
from shippers.buffer.jetstream.names import Names, event_headers, stored_row
from shippers.buffer.jetstream.source import JetStreamSinkSource, SinkCounters
from shippers.buffer.jetstream.spool import Spool
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
from shippers.config import BufferConfig
from shippers.config_buffer import max_bytes_of
from shippers.errors import BufferError, BufferUnavailableError, ConfigError
from shippers.event import Event

log = logging.getLogger("shippers.buffer")

# Why: a member started while the cluster elects a leader (a node just died) waits this long for the streams
# rather than failing its start; elections take a few seconds.
STARTUP_WAIT_SECONDS = 30.0
# Why: between two tries at start; an election is over in a few of them.
STARTUP_RETRY_SECONDS = 0.5
_NO_ARCHIVE_REPLAY = ("authlog replay (the archive) needs the embedded store for now: a chunk and its checkpoint cannot be one "
                      "transaction on JetStream; replay into a sidecar with [buffer] kind = \"sqlite\", or use `authlog dlq replay`")
# Why: a consumer, once there, is deleted only on purpose (fleet remove-sink): appends look again this rarely.
CONSUMER_CHECK_SECONDS = 5.0
# Why: the layout of subjects, headers and consumers this code writes (the DLQ replay check reads it).
SCHEMA_VERSION = 1
# Why: 48 random bits tell the members of one fleet apart (S3 keys built from a member's own seqs add it).
MEMBER_ID_HEX = 12
# Why: publishes awaiting their ack at once: enough to keep a Raft round trip busy, bounded so a 50k-event
# request does not open 50k requests (nats-py's own bound for async publishes is 4000).
PUBLISH_IN_FLIGHT = 1000
# Why: once the last event of an append is sent, its acks trail by a Raft commit (milliseconds); an append waits
# [buffer] emit_timeout for them, at least this long, then says the cluster did not answer (no quorum, unreachable).
MIN_ACK_WAIT_SECONDS = 1.0
# Why: sending a request's events (50k at most) takes seconds on a busy member; past this the member itself is stuck.
PUBLISH_CALL_SECONDS = 60.0
# Why: JetStream tracks every unacknowledged message of a consumer; a bound keeps one consumer's
# bookkeeping on the servers finite while leaving room for large batches (S3: 100k) on several members.
MAX_ACK_PENDING = 1_000_000


class JetStreamBuffer:
    """The Buffer of a fleet member (or of a CLI process reading the fleet's state)."""

    def __init__(self, config: BufferConfig, *, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.names = Names(config.stream)
        self.member_id = secrets.token_hex(MEMBER_ID_HEX // 2)
        self.store_id = self.member_id
        self.schema_version = SCHEMA_VERSION
        self.location = ", ".join(config.servers)
        self.fault: BufferError | None = None
        self.on_fault: Callable[[str], None] | None = None
        self.link = Link(config, name=f"authlog-{self.member_id}")
        self.link.on_fault = self._note_fault
        try:
            self._wait_for_streams()
        except BaseException:
            self.link.close()
            raise
        try:
            self.spool = Spool(config.spool, int(config.spool_max_bytes), clock) if config.spool else None
        except BaseException:
            self.link.close()
            raise
        self.dlq = JetStreamDlq(self.link, self.names, clock)
        self.backlogs = Backlogs(self.link, self.names, max_bytes_of(config))
        self.members = Members(self.link, self.names, config.replicas, self.member_id, clock)
        self._sources: dict[str, JetStreamSinkSource] = {}
        self._sources_lock = threading.Lock()
        self._consumers_checked_until = 0.0  # monotonic: the stream had a consumer when last looked (_require_a_sink)
        if self.spool is not None:  # every process forwards its spool, delivering or not (the spool's lock picks one)
            self.spool.start_forwarding(self._publish_now)

    def _wait_for_streams(self) -> None:
        """Create or check the streams; while the cluster elects a leader (no answer), try again for a while."""
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        while True:
            try:
                self.link.call(self._ensure_streams(), f"creating or checking the streams {self.names.stream!r} and {self.names.dlq_stream!r}")
                return
            except BufferUnavailableError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(STARTUP_RETRY_SECONDS)

    async def _ensure_streams(self) -> None:
        await ensure_stream(self.link.js, events_stream_config(self.config, self.names), self.location)
        await ensure_stream(self.link.js, dlq_stream_config(self.config, self.names), self.location)
        await ensure_bucket(self.link, self.names, self.config.replicas)

    def _note_fault(self, error: BufferError) -> None:
        self.fault = error
        if self.on_fault is not None:
            self.on_fault(getattr(error, "kind", "unavailable"))

    # -- appending ----------------------------------------------------------------------------
    def append(self, events: Sequence[tuple[Event, bytes]], *, only_sink: str | None = None) -> int:
        return self.append_deduplicated(events, only_sink=only_sink)[0]

    def append_deduplicated(self, events: Sequence[tuple[Event, bytes]], *, only_sink: str | None = None) -> tuple[int, int]:
        """Publish every event and wait for the stream's acks; return (last stream seq, how many were duplicates)."""
        if not events:
            return 0, 0
        try:
            return self._publish_now(events, only_sink)
        except BufferUnavailableError:
            if self.spool is None or only_sink is not None:
                raise
        last = self.spool.take(events)  # durable on return: the producer's 202; forwarded once the cluster answers
        return last, 0

    def _publish_now(self, events: Sequence[tuple[Event, bytes]], only_sink: str | None = None) -> tuple[int, int]:
        self._require_a_sink()
        self.backlogs.refuse_if_full(sum(len(body) for _, body in events))  # a blocking sink at its max_backlog
        subject = self.names.only_subject(only_sink) if only_sink else self.names.ingest_subject
        result = self.link.call(self._publish(subject, events), f"publishing {len(events)} event(s)", PUBLISH_CALL_SECONDS)
        self.fault = None
        return result

    def _require_a_sink(self) -> None:
        """Refuse while the stream has no consumer: with interest retention an event nobody's sink wants is not kept."""
        now = time.monotonic()
        if now < self._consumers_checked_until:
            return
        count = self._stream_state().consumer_count
        if not count:
            raise BufferUnavailableError(
                f"no sink has a consumer on the JetStream stream {self.names.stream!r} at {self.location} yet, so it would keep no "
                "event: start a member (authlog run) with this config first; nothing was stored", CONSUMER_CHECK_SECONDS, kind="no_sinks")
        self._consumers_checked_until = now + CONSUMER_CHECK_SECONDS

    async def _publish(self, subject: str, events: Sequence[tuple[Event, bytes]]) -> tuple[int, int]:
        """Publish with up to PUBLISH_IN_FLIGHT requests in flight; each waits emit_timeout (at least 1 s) for its ack.

        Plain request-reply publishes, not nats-py's publish_async: its reply handler raises on a 503 answer
        ("maximum bytes exceeded") instead of failing the future, which then never completes (nats-py 2.16).
        """
        now = self.clock()
        js = self.link.js
        wait = max(self.config.emit_timeout, MIN_ACK_WAIT_SECONDS)
        room = asyncio.Semaphore(PUBLISH_IN_FLIGHT)

        async def one(event: Event, body: bytes) -> PubAck:
            async with room:
                headers = event_headers(event.id, event.type, event.outcome, event.tenantId, now)
                return await js.publish(subject, body, timeout=wait, stream=self.names.stream, headers=headers)

        tasks = [asyncio.ensure_future(one(event, body)) for event, body in events]
        try:
            acks = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()  # after the first failure the rest are not waited for (the producer resends: duplicates)
        return max(ack.seq for ack in acks), sum(1 for ack in acks if ack.duplicate)

    def _stream_state(self) -> StreamState:
        """The events stream's state as the cluster has it now (one request)."""
        return self.link.call(self.link.js.stream_info(self.names.stream), "reading the stream's state").state

    # -- reading (the stream's own seqs) -----------------------------------------------------------
    def last_seq(self) -> int:
        return int(self._stream_state().last_seq)

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]:
        async def read() -> list[StoredRow]:
            rows: list[StoredRow] = []
            after = after_seq
            while len(rows) < limit:
                try:
                    msg = await self.link.js.get_msg(self.names.stream, seq=after + 1, subject=self.names.subjects, next=True)
                except nats.js.errors.NotFoundError:
                    break
                after = int(msg.seq or 0)
                rows.append(stored_row(after, msg.subject or "", msg.headers, msg.data or b"", self.names))
            return rows

        return self.link.call(read(), "reading the stream")

    def read(self, seqs: Sequence[int]) -> list[StoredRow]:
        async def read() -> list[StoredRow]:
            rows = []
            for seq in seqs:
                try:
                    msg = await self.link.js.get_msg(self.names.stream, seq=seq)
                except nats.js.errors.NotFoundError:
                    continue
                rows.append(stored_row(seq, msg.subject or "", msg.headers, msg.data or b"", self.names))
            return rows

        return self.link.call(read(), "reading the stream")

    def routing_counts(self, after_seq: int, through_seq: int) -> list[RoutingCount]:
        """Nothing: a sink's lag on JetStream is its consumer's pending + unacknowledged count (``sinks``)."""
        return []

    # -- delivering: each sink through this member's source -----------------------------------------
    def delivery_source(self, sink: str) -> JetStreamSinkSource:
        with self._sources_lock:
            source = self._sources.get(sink)
            if source is None:
                source = self._sources[sink] = JetStreamSinkSource(self.link, self.names, sink, self.config.ack_wait, self.clock,
                                                                   self.backlogs)
            return source

    def position(self, sink: str) -> tuple[int, int]:
        """In stream seqs, fleet-wide: (the consumer's ack floor, the last seq it handed out); KeyError for no consumer."""
        async def read() -> tuple[int, int] | None:
            try:
                info = await self.link.js.consumer_info(self.names.stream, sink)
            except nats.js.errors.NotFoundError:
                return None
            return (int(info.ack_floor.stream_seq) if info.ack_floor else 0, int(info.delivered.stream_seq) if info.delivered else 0)

        found = self.link.call(read(), f"reading sink {sink!r}'s consumer")
        if found is None:
            raise KeyError(sink)
        return found

    def open_batches(self, sink: str) -> list[BatchRecord]:
        """This member's open batches of the sink, in stream seqs (its delivery source numbers them its own way)."""
        return self.delivery_source(sink).open_batches_in_stream_seqs()

    def record_cut(self, sink: str, batches: Sequence[NewBatch], dead: Sequence[DeadItem], cut_through: int) -> list[BatchRecord]:
        return self.delivery_source(sink).record_cut(sink, batches, dead, cut_through)

    def replace_batch(self, batch: BatchRecord, parts: Sequence[NewBatch]) -> list[BatchRecord]:
        return self.delivery_source(batch.sink).replace_batch(batch, parts)

    def settle(self, batch: BatchRecord, *, delivered: int = 0, duplicates: int = 0, dead: Sequence[DeadItem] = (),
               remaining: Sequence[int] = ()) -> bool:
        return self.delivery_source(batch.sink).settle(batch, delivered=delivered, duplicates=duplicates, dead=dead, remaining=remaining)

    def adopted_batches(self, sink: str) -> list[BatchRecord]:
        return self.delivery_source(sink).adopted_batches(sink)

    def note_attempt(self, sink: str, *, state: str, error: str | None, retried: bool) -> None:
        self.delivery_source(sink).note_attempt(sink, state=state, error=error, retried=retried)

    # -- sinks: one durable consumer each ----------------------------------------------------------
    def register_sinks(self, policies: Iterable[SinkPolicy], *, remove_others: bool = True) -> list[str]:
        """Create the consumers of sinks the fleet does not have yet; never delete one (another member may have the sink)."""
        policies = list(policies)

        conflicts: list[str] = []

        async def register() -> list[str]:
            present = {info.name: info.config for info in await self.link.js.consumers_info(self.names.stream)}
            existing = set(present)
            for policy in policies:
                if policy.name in existing:
                    check_consumer(present[policy.name], policy.name, self.names.consumer_filters(policy.name), self.names.stream, self.location)
                    if conflict := route_conflict(present[policy.name], policy, self.names.stream):
                        conflicts.append(conflict)
                    continue
                config = ConsumerConfig(
                    durable_name=policy.name, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.config.ack_wait, max_deliver=-1,
                    deliver_policy=DeliverPolicy.ALL if policy.start_at == "oldest" else DeliverPolicy.NEW,
                    filter_subjects=self.names.consumer_filters(policy.name), max_ack_pending=MAX_ACK_PENDING,
                    num_replicas=self.config.replicas,
                    metadata={"authlog_type": policy.type, WHEN_FULL: policy.when_full, MAX_BACKLOG: str(policy.max_backlog or ""),
                              ROUTE: policy.route},
                )
                await self.link.js.add_consumer(self.names.stream, config)
            return sorted(existing - {p.name for p in policies})

        others = self.link.call(register(), "creating the sinks' consumers")
        if conflicts:  # a config problem, raised here: inside the call it would read as the cluster's failure
            raise ConfigError(conflicts)
        for name in others:
            log.warning("sink %r has a consumer on stream %r but is not in this member's config: this member does not deliver it "
                        "(other members may); `authlog fleet remove-sink %s` deletes it", name, self.names.stream, name)
        self.members.start([p.name for p in policies])
        return []

    def use_routes(self, routes: Mapping[str, Callable[[StoredRow], bool]]) -> None:
        """Nothing kept: a sink's backlog here is its consumer's count, not routed rows counted by this store."""

    def stored_policies(self) -> dict[str, tuple[str, str, int | None]]:
        infos = self.link.call(self.link.js.consumers_info(self.names.stream), "reading the sinks' consumers")
        policies = {}
        for info in infos:
            metadata = info.config.metadata or {}
            cap = metadata.get(MAX_BACKLOG) or ""
            policies[info.name] = (metadata.get("authlog_type", ""), metadata.get(WHEN_FULL, "block"), int(cap) if cap.isdigit() else None)
        return policies

    def forget_sink(self, sink: str) -> int:
        """Delete the sink's consumer (the whole fleet stops delivering it); return the events it had not settled."""
        async def forget() -> int | None:
            try:
                info = await self.link.js.consumer_info(self.names.stream, sink)
            except nats.js.errors.NotFoundError:
                return None
            await self.link.js.delete_consumer(self.names.stream, sink)
            return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

        left = self.link.call(forget(), f"deleting sink {sink!r}'s consumer")
        if left is None:
            raise KeyError(sink)
        return left

    def forgotten_sinks(self) -> dict[str, int]:
        return {}

    def sinks(self) -> list[SinkRow]:
        """Each consumer: fleet-wide backlog (pending + unacknowledged) as lag, this member's own counters."""
        async def read():  # type: ignore[no-untyped-def]
            infos = await self.link.js.consumers_info(self.names.stream)
            state = (await self.link.js.stream_info(self.names.stream)).state
            return infos, state.last_seq

        infos, last = self.link.call(read(), "reading the sinks' consumers")
        letters = self.dlq.counts()
        rows = []
        for info in sorted(infos, key=lambda i: i.name):
            backlog = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            floor = int(info.ack_floor.stream_seq) if info.ack_floor else 0  # every stream seq at or below: done for the sink
            with self._sources_lock:
                source = self._sources.get(info.name)
            counters = source.counters if source is not None else SinkCounters()  # a sink this member has not delivered: all zero
            rows.append(SinkRow(
                name=info.name, type=(info.config.metadata or {}).get("authlog_type", ""), watermark=last - backlog, cut_through=floor,
                lag_events=backlog, lag_bytes=0, in_flight=backlog,
                delivered=counters.delivered, duplicates=counters.duplicates, retries=counters.retries,
                dead_lettered=counters.dead_lettered, dropped=counters.dropped, dlq_events=letters.get(info.name, 0),
                state=counters.state, last_error=counters.last_error, last_delivery_at=counters.last_delivery_at,
            ))
        return rows

    def fleet_status(self) -> dict[str, object]:
        """What status adds on a fleet: the members seen, and per sink the consumer's figures and this member's share."""
        infos = self.link.call(self.link.js.consumers_info(self.names.stream), "reading the sinks' consumers")
        sinks = {}
        for info in infos:
            with self._sources_lock:
                source = self._sources.get(info.name)
            sinks[info.name] = {
                "pending": int(info.num_pending or 0), "unacknowledged": int(info.num_ack_pending or 0),
                "redelivered": int(info.num_redelivered or 0),
                "ownDelivered": source.counters.delivered if source else 0, "ownHeld": source.held() if source else 0,
            }
        fleet: dict[str, object] = {"stream": self.names.stream, "member": self.member_id, "members": self.members.listed(), "sinks": sinks,
                                    "limits": self._limits()}
        if self.spool is not None:
            fleet["spool"] = {"waiting": self.spool.waiting(), "forwarded": self.spool.forwarded}
        return fleet

    def _limits(self) -> dict[str, dict[str, int]]:
        """Bytes held and the byte limit of each stream the fleet keeps: events, dead letters, the two buckets."""
        streams = {"events": self.names.stream, "deadLetters": self.names.dlq_stream,
                   "cuts": f"KV_{self.names.cuts_bucket}", "members": f"KV_{self.names.members_bucket}"}

        async def read() -> dict[str, dict[str, int]]:
            limits = {}
            for what, stream in streams.items():
                try:
                    info = await self.link.js.stream_info(stream)
                except nats.js.errors.NotFoundError:  # not made yet (no heartbeat so far, no keyed cut): nothing to show
                    continue
                limits[what] = {"bytes": int(info.state.bytes), "maxBytes": int(info.config.max_bytes or -1)}
            return limits

        return self.link.call(read(), "reading the fleet's streams")

    def stats(self) -> dict[str, int]:
        state = self._stream_state()
        letters, letter_bytes = self.dlq.stats()
        return {"events": int(state.messages), "bytes": int(state.bytes) + letter_bytes, "maxBytes": max_bytes_of(self.config),
                "deadLetters": letters, "lastSeq": int(state.last_seq)}

    # -- no delivery lock: every member delivers ---------------------------------------------------------
    def acquire_delivery_lock(self) -> bool:
        return True

    def require_delivery_lock(self) -> None:
        return None

    def delivery_holder(self) -> tuple[str, int] | None:
        return None

    def release_delivery_lock(self) -> None:
        return None

    # -- dead letters ------------------------------------------------------------------------------------
    def dead_letters(self, sink: str | None = None, limit: int = 100, after_id: int = 0) -> list[DeadLetter]:
        return self.dlq.dead_letters(sink, limit, after_id)

    def dead_letter_count(self, sink: str | None = None) -> int:
        counts = self.dlq.counts()
        return counts.get(sink, 0) if sink is not None else sum(counts.values())

    def dead_letter_tags(self, sink: str) -> dict[str | None, int]:
        return self.dlq.tags(sink)

    def replay_dead_letters(self, sink: str, progress: Callable[[int, int], None] | None = None) -> int:
        return self.dlq.replay(sink, progress)

    def purge_dead_letters(self, sink: str | None = None, older_than: float | None = None) -> int:
        return self.dlq.purge(sink, older_than)

    def append_replayed(self, events: Sequence[tuple[Event, bytes, str | None]], *, only_sink: str, checkpoint: tuple[str, str],
                        expected: str | None) -> int:
        raise BufferError(_NO_ARCHIVE_REPLAY)

    def replay_checkpoints(self, run: str) -> dict[str, str]:
        raise BufferError(_NO_ARCHIVE_REPLAY)

    def convert_dead_letters(self, converters: Mapping[str, Callable[[bytes, str], tuple[bytes, str, str]]]) -> dict[str, int]:
        return {}  # every letter is written with its sink's PII tag (module docstring of .dlq)

    def raw_dead_letters(self) -> dict[str, int]:
        return {}

    # -- health and life cycle ------------------------------------------------------------------------------
    def probe_write(self) -> None:
        """Whether the stream has a leader and answers (a read: nothing is written to a shared stream)."""
        self._stream_state()
        self.fault = None

    def close(self) -> None:
        if self.link.loop.loop.is_closed():
            return
        self.members.stop()
        if self.spool is not None:
            self.spool.close()
        with self._sources_lock:
            for source in self._sources.values():
                source.close()
        self.link.close()

