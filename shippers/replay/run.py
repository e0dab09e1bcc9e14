"""One archive replay: objects -> lines -> checked events -> chunks queued for the target sink, checkpointed.

For each object the source lists (oldest first), the lines are read again (:mod:`.lines`), kept
when they fall in ``[since, until)``, match ``--types`` / ``--tenants`` and the target sink's own
route, and fit its destination's ingestion window (:mod:`.targets`); the rest are counted by reason.
What is kept is queued for that sink alone (``Buffer.append_replayed``, like a DLQ replay: the other
sinks never see it) in chunks, each committed with the checkpoint ``(object, lines read)``, the
object's last one saying ``done``. A second run with the same arguments (the same run id) skips the
objects done and resumes the others after their last committed line: each event is queued once,
whether the first run ended by Ctrl-C, kill -9 or a full disk. Two runs with the same arguments at once
never both queue a chunk: each commit expects the checkpoint as its run left it (ReplayConflictError
stops the run that finds it moved). A file sink's current file is never done for good (its checkpoint
is a line count, kept by its inode and first line through rotation): a later run reads the lines
appended to it since, and never an unterminated last line the sink may still be writing.

Pacing, all on the injected clock and sleep: ``rate`` caps queued events per second, and queueing
waits while the sink's backlog in the store is above half its cap (``max_backlog``, else the store's
``max_bytes``), so live producers never meet a full store because of a replay. A destination's window
is checked again once the wait is over: what aged out of it meanwhile is skipped, never queued.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import StoredRow
from shippers.config import SinkConfig
from shippers.errors import BufferFullError
from shippers.event import Event, encode_event
from shippers.pii import SinkPii
from shippers.replay.lines import LineProblem, LineReader, NotAnArchive, pii_tag
from shippers.replay.sources import ArchiveObject, ObjectUnreadable, Source, SourceError
from shippers.replay.targets import policy_shortfall, retention_check, window_check
from shippers.routing import Route

# Why: 1000 events per transaction, as a DLQ replay commits: short write locks beside live ingest.
CHUNK_EVENTS = 1000
# Why: the backlog is read again this often while it is above half the cap; a sink drains a batch in well under it.
BACKLOG_POLL_SECONDS = 0.5
# Why: run ids name checkpoints in the store; 64 bits of SHA-256 of the arguments never collide in one store.
RUN_ID_HEX = 16
DONE = "done"


@dataclass(frozen=True)
class ReplayRequest:
    source: Source
    sink: str
    since: datetime
    until: datetime
    types: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    rate: float | None = None  # events per second; None: as fast as the store takes them
    dry_run: bool = False
    until_now: bool = False  # --until was left out: ``until`` is this run's start, not part of its identity

    @property
    def run_id(self) -> str:
        """The same arguments, the same id: a second run continues the first one's checkpoints."""
        parts = [self.source.url, self.sink, self.since.isoformat(), "now" if self.until_now else self.until.isoformat(),
                 ",".join(sorted(self.types)), ",".join(sorted(self.tenants))]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:RUN_ID_HEX]


@dataclass(frozen=True)
class Problem:
    key: str
    line: int | None  # None: the whole object
    message: str


@dataclass
class Summary:
    objects: int = 0
    objects_done_before: int = 0  # skipped: a previous run with the same arguments finished them
    objects_unreadable: int = 0
    bytes_read: int = 0
    lines: int = 0
    queued: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> events not queued
    stale: Counter[str] = field(default_factory=Counter)  # note -> events queued that the destination may drop
    policy: Counter[str] = field(default_factory=Counter)  # shortfall note -> events
    problems: list[Problem] = field(default_factory=list)
    bad_lines: int = 0


class ProgressSink(Protocol):
    def started(self, objects: int, size: int) -> None: ...

    def advanced(self, *, objects: int = 0, size: int = 0, events: int = 0) -> None: ...


class _NoProgress:
    def started(self, objects: int, size: int) -> None:
        pass

    def advanced(self, *, objects: int = 0, size: int = 0, events: int = 0) -> None:
        pass


def _epoch(event: Event) -> float:
    return event.timestamp.timestamp()


class Replayer:
    """Runs one :class:`ReplayRequest` against a store (see the module docstring)."""

    def __init__(
        self,
        request: ReplayRequest,
        *,
        buffer: Buffer,
        target: SinkConfig,
        reader: LineReader,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
        store_max_bytes: int,
        progress: ProgressSink | None = None,
    ) -> None:
        self.request = request
        self.buffer = buffer
        self.target = target
        self.reader = reader
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.progress = progress or _NoProgress()
        self.summary = Summary()
        self._types = re.compile("|".join(fnmatch.translate(p) for p in request.types)) if request.types else None
        self._tenants = frozenset(request.tenants) if request.tenants else None
        self._route = Route(target.name, target.common.route)
        self._window = window_check(target.common.type)
        self._retention = retention_check(target.common.type)
        self._target_actions = SinkPii(target.common.pii).actions
        self._since, self._until = request.since.timestamp(), request.until.timestamp()
        cap = min(target.common.max_backlog or store_max_bytes, store_max_bytes)
        self._backlog_limit = cap // 2
        self._rate_started: float | None = None
        self._rate_sent = 0
        self._held: str | None = None  # the current object's checkpoint as this run last saw or wrote it

    # -- the run ---------------------------------------------------------------------------
    def objects(self) -> list[ArchiveObject]:
        return self.request.source.objects(self.request.since, self.request.until, self._tenants)

    def run(self, objects: Sequence[ArchiveObject] | None = None) -> Summary:
        objects = list(self.objects() if objects is None else objects)
        done = {} if self.request.dry_run else self.buffer.replay_checkpoints(self.request.run_id)
        self.summary.objects = len(objects)
        self.progress.started(len(objects), sum(o.size for o in objects))
        for obj in objects:
            state = done.get(obj.checkpoint, "0")
            if state.startswith(DONE):
                self.summary.objects_done_before += 1
                self.progress.advanced(objects=1, size=obj.size)
                continue
            self._held = done.get(obj.checkpoint)
            self._replay_object(obj, int(state))
            self.progress.advanced(objects=1, size=obj.size)
        return self.summary

    def _replay_object(self, obj: ArchiveObject, resume_after: int) -> None:
        try:
            data = self.request.source.read(obj)
        except ObjectUnreadable as exc:
            self.summary.objects_unreadable += 1
            self.summary.problems.append(Problem(obj.key, None, str(exc)))
            return
        self.summary.bytes_read += obj.size
        chunk: list[tuple[Event, bytes, str | None]] = []
        chunk_size = CHUNK_EVENTS if self.request.rate is None else max(1, min(CHUNK_EVENTS, int(self.request.rate)))
        lines = data.split(b"\n")
        if data.endswith(b"\n") or obj.growing:
            lines.pop()  # the empty piece after the last newline, or a line the file sink is still writing
        number = 0
        for number, line in enumerate(lines, start=1):
            if number <= resume_after or not line.strip():
                continue
            self.summary.lines += 1
            try:
                event = self.reader.read(line)
            except NotAnArchive as exc:
                raise SourceError(f"{self.request.source.url}: {obj.key}: {exc}; only NDJSON archives (an s3 sink with "
                                  "format = \"ndjson\") and file-sink output can be replayed") from None
            if isinstance(event, LineProblem):
                self.summary.bad_lines += 1
                self.summary.problems.append(Problem(obj.key, number, event.message))
                continue
            if self._keep(event):
                chunk.append((event, encode_event(event), pii_tag(event)))
            if len(chunk) >= chunk_size:
                self._queue(chunk, obj, str(number))
                chunk = []
        # A growing file is never done: the lines it gets later (before or after its rotation) are read next time.
        read = max(number, resume_after)  # a file cut shorter since (by hand) never moves its checkpoint back
        self._queue(chunk, obj, str(read) if obj.growing else f"{DONE} {read}")

    def _keep(self, event: Event) -> bool:
        """Whether the event is queued; when not, its reason is counted."""
        when = _epoch(event)
        if not self._since <= when < self._until:
            self.summary.skipped["outside --since/--until"] += 1
            return False
        if self._types is not None and self._types.match(event.type) is None:
            self.summary.skipped["not in --types"] += 1
            return False
        if self._tenants is not None and event.tenantId not in self._tenants:
            self.summary.skipped["not in --tenants"] += 1
            return False
        row = StoredRow(0, 0.0, event.type, event.outcome, event.tenantId, None, b"")
        if not self._route.takes(row):
            self.summary.skipped[f"not routed to {self.target.name} (its route)"] += 1
            return False
        now = self.clock()
        if self._window is not None:
            outside = self._window(when, now)
            if outside is not None:
                self.summary.skipped[outside] += 1
                return False
        if self._retention is not None:
            stale = self._retention(when, now)
            if stale is not None:
                self.summary.stale[stale] += 1
        for note in policy_shortfall(event.pii, self._target_actions):
            self.summary.policy[note] += 1
        return True

    # -- queueing --------------------------------------------------------------------------
    def _queue(self, chunk: list[tuple[Event, bytes, str | None]], obj: ArchiveObject, checkpoint: str) -> None:
        if not self.request.dry_run:
            chunk = self._commit(chunk, obj, checkpoint)
        self.summary.queued += len(chunk)  # counted once committed: an interrupted run says what is in the store
        self.progress.advanced(events=len(chunk))

    def _commit(self, chunk: list[tuple[Event, bytes, str | None]], obj: ArchiveObject, checkpoint: str) -> list[tuple[Event, bytes, str | None]]:
        """Queue the chunk once there is room and the rate allows; return what was queued."""
        self._wait_for_room()
        self._pace(len(chunk))
        name = f"{self.request.run_id}.{obj.checkpoint}"
        while True:
            chunk = self._still_in_window(chunk)
            try:
                self.buffer.append_replayed(chunk, only_sink=self.target.name, checkpoint=(name, checkpoint), expected=self._held)
                self._held = checkpoint
                return chunk
            except BufferFullError as exc:  # another sink filled the store meanwhile: wait, as a producer would
                self.sleep(exc.retry_after)

    def _still_in_window(self, chunk: list[tuple[Event, bytes, str | None]]) -> list[tuple[Event, bytes, str | None]]:
        """The chunk without what left the destination's window while queueing waited (for room, the rate): skipped, counted."""
        if self._window is None:
            return chunk
        now, kept = self.clock(), []
        for item in chunk:
            outside = self._window(_epoch(item[0]), now)
            if outside is None:
                kept.append(item)
            else:
                self.summary.skipped[outside] += 1
        return kept

    def _wait_for_room(self) -> None:
        """Wait while the target's backlog is above half its cap (live producers keep the other half)."""
        while self._backlog() > self._backlog_limit:
            self.sleep(BACKLOG_POLL_SECONDS)

    def _backlog(self) -> int:
        for row in self.buffer.sinks():
            if row.name == self.target.name:
                return row.lag_bytes
        return 0

    def _pace(self, events: int) -> None:
        """At most ``rate`` events per second since the first chunk (monotonic clock)."""
        rate = self.request.rate
        if rate is None or not events:
            return
        now = self.monotonic()
        if self._rate_started is None:
            self._rate_started = now
        due = self._rate_started + self._rate_sent / rate
        if due > now:
            self.sleep(due - now)
        self._rate_sent += events
