"""The :class:`Shipper`: one configured pipeline (catalog, validator, buffer, one worker per sink).

Both faces of the product use it: the sidecar (``authlog run``) puts an HTTP server in
front of :meth:`Shipper.ingest_raw`, and apps embed it through :mod:`shippers.api`
(``configure`` / ``emit``) and the logging handler.

Several processes of one app may open the same buffer: all of them append, exactly one
(the holder of the buffer's delivery lock) runs the sink workers. ``start()`` insists on
the lock (the sidecar); ``start(standby=True)`` delivers if it can get the lock and keeps
trying in the background otherwise (app workers). With ``[delivery] processes`` the lock holder
runs its sinks in delivery processes instead (shippers/delivery_process: a RemoteSink per sink in
``workers``, steered like a SinkWorker) and gives the lock back only once every child has exited.

Two injected clocks: ``clock`` is wall time, for what is shown and stored (receipt times,
lastDeliveryAt, DLQ times, event-time checks); ``monotonic`` measures every timeout and deadline
(batch timeouts, flush/close/emit deadlines, uptime), so a wall clock stepped by NTP or an
operator never stalls, hurries or stretches delivery.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shippers import __version__
from shippers.backlog_age import age_seconds, oldest_pending_received
from shippers.buffer import Buffer, DeadLetter, SinkPolicy
from shippers.buffer.opening import open_buffer
from shippers.buffer.records import UNDECODABLE_TAG
from shippers.catalog import Catalog, load_catalog
from shippers.config import Config, SinkConfig, config_from_dict, load_config
from shippers.delivery.lag import RoutedLag
from shippers.delivery.shared_rows import SharedRows
from shippers.delivery_process.placement import lock_thread_sinks, placement_for
from shippers.delivery_process.remote_sink import RemoteSink
from shippers.delivery_process.sink_lock import SinkLock
from shippers.delivery_process.supervisor import START_TIMEOUT_SECONDS, DeliveryProcess
from shippers.errors import (
    AuthlogError,
    BufferError,
    BufferFullError,
    BufferLockedError,
    BufferUnavailableError,
    SinkRemovedError,
    ValidationError,
)
from shippers.event import Event, EventValidator, encode_event, unexpected_rejection
from shippers.group_commit import GroupCommitter
from shippers.ingest import IngestResult, Validated, append_validated, validate_items

__all__ = ["IngestResult", "Shipper", "Validated"]  # the two results are re-exported (defined in shippers.ingest)
from shippers.enrichment.enricher import build_enricher
from shippers.metrics import Metrics, refusal_reason
from shippers.pii import SinkPii
from shippers.plugins import build_adapters
from shippers.routing import Route, route_text
from shippers.worker import SinkWorker, batch_limits, plural

log = logging.getLogger(__name__)

# Why: a standby process (an app worker without the lock) checks this often whether the
# deliverer went away, so delivery resumes within seconds of a crash.
STANDBY_RETRY_SECONDS = 5.0
# Why: dead letters whose conversion met a full disk are retried this often; space comes back in minutes, not ms.
CONVERT_RETRY_SECONDS = 30.0
# Why: flush() checks progress this often; it returns as soon as the sinks are caught up.
FLUSH_POLL_SECONDS = 0.02
# Why: after close() gave up on a hung send, its watcher looks this often whether the send returned,
# so the delivery lock is handed over within a second of it.
RELEASE_POLL_SECONDS = 0.5


class Shipper:
    """A configured pipeline; see the module docstring."""

    _release_watcher: threading.Thread | None = None  # close() left a send in flight: releases the lock after it

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self._sleep = sleep
        self.catalog: Catalog = load_catalog(Path(config.catalog.extra) if config.catalog.extra else None)
        self.metrics = Metrics()
        enricher = build_enricher(config.enrich, on_failure=self.metrics.count_enrichment_failure)
        if enricher is not None:  # the ingest process's failures are counted here too (ProcessIngest)
            self.metrics.track_enrichment(enricher.lookups)
        self.validator = EventValidator(self.catalog, clock, enricher)
        self.buffer: Buffer = open_buffer(config.buffer, clock=clock)
        self.buffer.on_fault = lambda kind: self.metrics.store_errors.labels(kind).inc()
        self.adapters = build_adapters(config.sinks.values(), self.catalog, clock, self.buffer.store_id, monotonic)
        # Sink positions and policies are the delivering process's (see _start_workers); this one only says where it differs.
        for problem in self._policy_differences():
            log.warning("%s", problem)
        self.pii = {s.name: SinkPii(s.common.pii) for s in config.sinks.values()}
        self.routes = {s.name: Route(s.name, s.common.route) for s in config.sinks.values()}
        self._lag = RoutedLag(self.buffer, {name: route.takes for name, route in self.routes.items()})  # status() only
        self._refused: str | None = None  # why this process holds no delivery (a removed sink with a backlog)
        self._refused_sinks: list[str] = []
        self.workers: dict[str, SinkWorker | RemoteSink] = {}
        self.delivery_processes: list[DeliveryProcess] = []  # [delivery] processes: the children delivering sinks
        self._sink_locks: list[SinkLock] = []  # the flocks of the sinks on this process's threads, when children may exist
        self.started_at = clock()  # wall, for display
        self._started_mono = monotonic()  # uptime
        self._delivering = False
        self._closed = threading.Event()
        self._standby: threading.Thread | None = None
        self._dropped_seen: dict[str, int] = {}  # drops are counted in the store (by any appender)
        self._status_lock = threading.Lock()  # status() runs on several sidecar threads at once
        self.left_for_restart: int | None = 0  # recorded batches close() left for the next start (None: unknown)
        self._emits = GroupCommitter(self._commit)  # emit() from many threads: one transaction per group

    @classmethod
    def from_config(
        cls,
        source: Config | Mapping[str, Any] | str | Path,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        deliver: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Shipper:
        """Build from a Config, a dict with the TOML's keys, or a path to a TOML file.

        With ``deliver=True`` it also starts delivering (see :meth:`start`); otherwise it only
        appends and reads the store (``authlog status`` / ``dlq`` without a sidecar).
        """
        if isinstance(source, Config):
            config = source
        elif isinstance(source, Mapping):
            config = config_from_dict(source)
        else:
            config = load_config(source)
        shipper = cls(config, clock=clock, sleep=sleep, monotonic=monotonic)
        return shipper.start() if deliver else shipper

    def _policy_differences(self) -> list[str]:
        """Where this config's sink policies differ from the ones the delivering process stored (its config applies)."""
        stored = self.buffer.stored_policies()
        problems = []
        for s in self.config.sinks.values():
            if s.name not in stored:
                continue
            kind, when_full, max_backlog = stored[s.name]
            for key, mine, theirs in (("type", s.common.type, kind), ("when_full", s.common.when_full, when_full),
                                      ("max_backlog", s.common.max_backlog, max_backlog)):
                if mine != theirs:
                    problems.append(
                        f"sink {s.name!r}: this config says {key} = {mine!r}, the store says {theirs!r} (registered by the "
                        "delivering process): only the delivering process's config applies; make the configs agree"
                    )
        return problems

    def _sink_errors(self, stored: set[str]) -> list[str]:
        """Sinks the store and this config disagree on, and why this process does not deliver (status ``errors``)."""
        errors = [self._refused] if self._refused and not self._delivering else []
        if halted := self._halted():
            errors.append(halted)
        for name in sorted(stored - set(self.config.sinks)):
            errors.append(f"sink {name!r} has a position in the store but is not in this config: it is not delivered here; "
                          f"put it back in the config, or run `authlog sinks forget {name}` (what it holds is counted as dropped)")
        for name in sorted(set(self.config.sinks) - stored):
            errors.append(f"sink {name!r} is in this config but has no position in the store: no delivering process has "
                          "registered it (a sink starts when the process that delivers has it in its config); if one runs, "
                          "add the sink to that process's config")
        return errors

    def _halted(self) -> str | None:
        """Why a delivery process is not restarted (the installed code changed), or None."""
        return next((w.halted for w in self.workers.values() if isinstance(w, RemoteSink) and w.halted), None)

    def _policies(self) -> list[SinkPolicy]:
        return [
            SinkPolicy(s.name, s.common.type, s.common.when_full, s.common.max_backlog, s.common.start_at, route_text(s.common.route))
            for s in self.config.sinks.values()
        ]

    # -- delivery -------------------------------------------------------------
    def start(self, *, standby: bool = False) -> Shipper:
        """Start delivering; with standby=True, deliver only once this process gets the lock.

        Raises SinkRemovedError (standby: logs it and keeps trying, without holding the lock) when
        a sink missing from this config still holds undelivered events.
        """
        if self.buffer.acquire_delivery_lock():
            if self._try_start_workers(raise_refusal=not standby):
                return self
        elif not standby:
            self.buffer.require_delivery_lock()  # raises BufferLockedError naming the holder
        self._standby = threading.Thread(target=self._wait_for_lock, name="authlog-standby", daemon=True)
        self._standby.start()
        return self

    def _wait_for_lock(self) -> None:
        while not self._closed.wait(STANDBY_RETRY_SECONDS):
            if self.buffer.acquire_delivery_lock():
                if self._closed.is_set():  # close() ran meanwhile: give the lock back, do not start delivering
                    self.buffer.release_delivery_lock()
                    return
                if self._try_start_workers(raise_refusal=False):
                    log.info("took over delivery from %s", self.config.buffer.path)
                    return

    def _try_start_workers(self, *, raise_refusal: bool) -> bool:
        """Start the workers under the lock just taken; on a removed sink's backlog give the lock back (False)."""
        try:
            self._start_workers()
        except BufferLockedError as exc:  # a sink's lock is held (an earlier owner still ends): deliver later, or not at all
            self.buffer.release_delivery_lock()
            log.error("not delivering from %s: %s", self.config.buffer.path, exc)
            if raise_refusal:
                raise
            return False
        except SinkRemovedError as exc:
            self.buffer.release_delivery_lock()  # a process whose config has the sink may deliver meanwhile
            if self._refused_sinks != sorted(exc.sinks):  # once per set of sinks (their counts grow with every event)
                log.error("not delivering from %s: %s", self.config.buffer.path, exc)
            self._refused, self._refused_sinks = str(exc), sorted(exc.sinks)
            if raise_refusal:
                raise
            return False
        self._refused, self._refused_sinks = None, []
        return True

    def _start_workers(self) -> None:
        self.buffer.register_sinks(self._policies(), remove_others=True)
        # Exact drop counts need the routes the sinks were registered with: the deliverer's. Any other
        # process (an app appending under another config) counts every row it drops: never fewer.
        self.buffer.use_routes({name: route.takes for name, route in self.routes.items()})
        if not self.convert_pending_dead_letters():
            threading.Thread(target=self._retry_conversion, name="authlog-convert", daemon=True).start()
        real_time = self.clock is time.time and self.monotonic is time.monotonic and self._sleep is None
        plan = placement_for(self.config, real_time=real_time)
        self._sink_locks = lock_thread_sinks(self.config, plan, START_TIMEOUT_SECONDS, self._closed)
        shared = SharedRows(self.buffer)  # every sink of this process reads and decodes each row once, together
        for name in plan.in_process:
            self.workers[name] = self._make_worker(self.config.sinks[name], shared)
        for index, group in enumerate(plan.groups):
            process = DeliveryProcess(index, self.config, group, self.metrics)
            self.delivery_processes.append(process)
            self.workers.update(process.sinks)
        for worker in self.workers.values():
            worker.start()
        for process in self.delivery_processes:
            process.start()
        for process in self.delivery_processes:  # /readyz right after start() shows them running (or why not)
            process.first_start.wait(START_TIMEOUT_SECONDS)
        self._delivering = True

    def _release_sink_locks(self) -> None:
        locks, self._sink_locks = self._sink_locks, []
        for lock in locks:
            lock.release()

    def _make_worker(self, sink: SinkConfig, shared: SharedRows) -> SinkWorker:
        adapter = self.adapters[sink.name]
        return SinkWorker(sink, adapter, self.routes[sink.name], batch_limits(sink, adapter), self.pii[sink.name], self.buffer, self.metrics,
                          self.clock, self._sleep, monotonic=self.monotonic, shared=shared)

    def deliver_only(self, names: Sequence[str]) -> bool:
        """Deliver these sinks alone when no process delivers from the store (``authlog replay`` with no sidecar);
        False, nothing started, when one does. Only their positions are registered: the other sinks' stay as stored."""
        if not self.buffer.acquire_delivery_lock():
            return False
        self.buffer.register_sinks([p for p in self._policies() if p.name in names], remove_others=False)
        self.buffer.use_routes({name: self.routes[name].takes for name in names})
        shared = SharedRows(self.buffer)  # these sinks read and decode each row once, together
        for name in names:
            self.workers[name] = self._make_worker(self.config.sinks[name], shared)
            self.workers[name].start()
        self._delivering = True
        return True

    def drained(self, name: str) -> bool:
        """Whether sink ``name`` is done with everything in the store now (asks its worker to cut what waits)."""
        if self.buffer.position(name)[0] >= self.buffer.last_seq():
            return True
        worker = self.workers.get(name)
        if worker is not None:
            worker.flush_requested.set()
            worker.wake.set()
        return False

    def require_tag_reader(self, action: str) -> None:
        """Refuse ``action`` (re-queueing events that carry a PII tag) when the deliverer is too old to honour the tag."""
        holder = self.buffer.delivery_holder()
        if holder is not None and holder[1] < self.buffer.schema_version:
            raise BufferLockedError(
                f"{action} refused: the process delivering from {self.config.buffer.path} (pid {holder[0]}) runs an older "
                f"authlog (store schema {holder[1]}, this one {self.buffer.schema_version}); it would apply the sink's PII policy again "
                "to events that already hold the sink's view. Upgrade that process first, then replay"
            )

    @property
    def delivering(self) -> bool:
        return self._delivering

    def ready(self) -> bool:
        """The store answers and takes writes and, when this process delivers, every worker is running."""
        return self.not_ready() is None

    def not_ready(self) -> str | None:
        """Why this shipper is not ready (``/readyz`` says it), or None when it is.

        A store whose last write failed (full disk, read-only...) is probed with a small write, so
        readiness comes back by itself once the store takes writes, with or without ingest traffic.
        """
        try:
            self.buffer.stats()
            if self.buffer.fault is not None:
                self.buffer.probe_write()
        except AuthlogError as exc:
            return str(exc)
        except Exception as exc:
            return f"the store {self.buffer.location} does not answer: {type(exc).__name__}: {exc}"
        stopped = sorted(name for name, worker in self.workers.items() if not worker.alive) if self._delivering else []
        if stopped:
            return f"the delivery of sink(s) {', '.join(stopped)} stopped; {self._halted() or 'see the log'}"
        return None

    def flush(self, timeout: float = 30.0) -> bool:
        """Cut every waiting batch now and wait until each sink is caught up; False on timeout."""
        deadline = self.monotonic() + timeout
        while self.monotonic() < deadline:
            last = self.buffer.last_seq()
            if all(row.watermark >= last for row in self.buffer.sinks()):
                for process in self.delivery_processes:  # their reports of what was delivered are in before flush returns
                    process.sync(max(0.0, deadline - self.monotonic()))
                return True
            for worker in self.workers.values():
                worker.flush_requested.set()
                worker.wake.set()
            self._closed.wait(FLUSH_POLL_SECONDS)
        return False

    def close(self, timeout: float = 10.0) -> bool:
        """Shut down in order: stop accepting, drain in-flight batches within the deadline, stop, close.

        Returns True when every worker finished within the deadline; whatever was not delivered
        stays in the buffer and is resent at the next start (``left_for_restart`` batches of it
        were recorded: cut, and perhaps in flight).
        """
        deadline = self.monotonic() + timeout
        self._closed.set()
        self._emits.close()  # emit() calls queued now commit before the store closes
        if self._standby is not None:  # a standby taking over right now finishes starting its workers first
            self._standby.join(max(0.0, deadline - self.monotonic()))
        # 1. drain: workers cut what is waiting (ignoring batch timeouts) and deliver it, one
        #    attempt per batch (a backoff sleep in progress is cut short; nothing is retried, and
        #    nothing is sent inside a Retry-After or backoff deadline: those batches stay recorded).
        for worker in self.workers.values():
            worker.draining.set()
            worker.interrupt.set()
            worker.wake.set()
        clean = True
        for worker in self.workers.values():
            clean = worker.join(max(0.0, deadline - self.monotonic())) and clean
        # 2. stop: interrupt backoff sleeps of the workers that are still retrying.
        for worker in self.workers.values():
            worker.stopping.set()
            worker.interrupt.set()
            worker.wake.set()
        for worker in self.workers.values():
            worker.join(max(0.1, deadline - self.monotonic()))
        # 3. close the store. A worker still stuck in a send keeps the delivery lock until that send
        #    returns (so no other deliverer sends its batch a second time); a watcher then releases it.
        self.left_for_restart = self._batches_left()
        stuck = [worker for worker in self.workers.values() if worker.alive]
        for process in self.delivery_processes:  # the delivery lock outlives every child (none delivers without it)
            if not any(sink.alive for sink in process.sinks.values()):  # False: killed, or it died before its drain ended
                clean = process.stop(max(0.1, deadline - self.monotonic())) and clean
        if stuck:
            if self._release_watcher is None:  # one watcher, however often close() is called
                left = "an unknown number of batches" if self.left_for_restart is None else plural(self.left_for_restart, "batch", "batches")
                log.warning(
                    "shutdown deadline passed with a send still in flight (sink %s); left for the restart: %s, recorded "
                    "in the store and resent at the next start (one in flight may then reach its destination twice); "
                    "the delivery lock is released when that send returns", ", ".join(repr(w.name) for w in stuck), left,
                )
                self._release_watcher = threading.Thread(target=self._release_when_done, args=(stuck,), name="authlog-release", daemon=True)
                self._release_watcher.start()
            clean = False
        else:
            self._release_sink_locks()
            self.buffer.close()
        self._delivering = False
        return clean

    def _batches_left(self) -> int | None:
        """Recorded, unsettled batches of every sink (they are resent at the next start); None if the store does not answer."""
        if not self._delivering:
            return 0  # another process delivers: its batches are its own to report
        try:
            return sum(len(self.buffer.open_batches(name)) for name in self.config.sinks)
        except Exception as exc:
            log.debug("could not count the batches left for the restart: %s", exc)
            return None

    def _release_when_done(self, stuck: list[SinkWorker | RemoteSink]) -> None:
        """After close(): once the last stuck worker is out (its send returned) and every child exited, give the lock back."""
        for worker in stuck:
            while not worker.join(RELEASE_POLL_SECONDS):
                pass
        for process in self.delivery_processes:
            process.stop(RELEASE_POLL_SECONDS)  # its child is killed if it did not exit: none outlives the lock
            while not process.ended(RELEASE_POLL_SECONDS):
                pass
        self._release_sink_locks()
        self.buffer.release_delivery_lock()
        log.info("the send in flight at shutdown returned; the delivery lock of %s is released", self.config.buffer.path)

    def __enter__(self) -> Shipper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest ------------------------------------------------------------------
    def ingest_raw(self, items: Sequence[bytes]) -> IngestResult:
        """Validate JSON items one by one and commit the valid ones in one transaction."""
        return self.commit_validated(self.validate_raw(items))

    def validate_raw(self, items: Sequence[bytes], *, start: int = 0, into: Validated | None = None) -> Validated:
        """The first half of ingest_raw: validate each item (no I/O; may run beside a commit).

        A request may be validated in turns (shippers/sidecar/turns.py): ``start`` is the index of
        ``items[0]`` in the request, and ``into`` the Validated of the earlier turns, extended in place.
        """
        validated, reasons = validate_items(self.validator, items, self.clock(), start=start, into=into)
        for reason, n in reasons.items():
            self.metrics.count_rejected(reason, n)
        return validated

    def commit_validated(self, validated: Validated) -> IngestResult:
        """The second half of ingest_raw: commit the accepted events in one transaction (refused ones are counted)."""
        try:
            duplicates = self._commit(validated.accepted)
        except BufferError as exc:
            self.metrics.count_refused(refusal_reason(exc), len(validated.accepted))
            raise
        return IngestResult(len(validated.accepted), validated.rejected, duplicates)

    def _commit(self, accepted: Sequence[tuple[Event, bytes]]) -> int:
        """Commit, count and wake the workers; return how many the store already held (duplicates)."""
        try:
            counts, duplicates = append_validated(self.buffer, accepted)
        except BufferFullError as exc:
            self.note_refused(exc)
            raise
        self.note_committed(counts)
        if duplicates:
            self.metrics.count_duplicates(duplicates)
        return duplicates

    def note_committed(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Events were committed (here, or by the sidecar's ingest process): count them and wake the workers."""
        if not counts:
            return
        self.metrics.count_received(counts)
        for worker in self.workers.values():
            worker.wake.set()

    def note_refused(self, exc: BufferFullError) -> None:
        """A commit met a full sink: its worker shows why producers are refused."""
        worker = self.workers.get(exc.sink or "")
        if worker is not None:
            worker.mark_blocked(str(exc))

    def emit(self, type: str, **fields: Any) -> Event:
        """Validate and durably append one event; raise ValidationError or, after emit_timeout, BufferFullError
        (no room: a full sink, the store's cap, or its disk) or BufferUnavailableError (read-only, I/O error)."""
        event, line = self._validate_fields(type, fields)
        deadline = self.monotonic() + self.config.buffer.emit_timeout
        while True:
            try:
                self._emits.commit([(event, line)])
                return event
            except (BufferFullError, BufferUnavailableError) as exc:  # a full sink or disk, a read-only store...
                remaining = deadline - self.monotonic()
                if remaining <= 0:
                    self.metrics.count_refused(refusal_reason(exc))  # once per event, when emit gives up
                    raise
                (self._sleep or time.sleep)(min(remaining, exc.retry_after, 0.1))
            except BufferError as exc:  # a forked or lost store: no retry
                self.metrics.count_refused(refusal_reason(exc))
                raise

    def _validate_fields(self, type: str, fields: dict[str, Any]) -> tuple[Event, bytes]:
        """emit()'s event and its stored line; raises only ValidationError (counted)."""
        try:
            event = self.validator.from_fields({"type": type, **fields})
            return event, encode_event(event)
        except ValidationError as exc:
            self.metrics.count_rejected(exc.reason)
            raise
        except Exception as exc:  # last resort, as in validate_raw: emit() raises only ValidationError for an event
            failure = unexpected_rejection(exc)
            self.metrics.count_rejected(failure.reason)
            raise failure from None

    # -- dead letters ---------------------------------------------------------------
    def dead_letters(self, sink: str | None = None, limit: int = 100) -> list[DeadLetter]:
        return self.buffer.dead_letters(sink, limit)

    def convert_pending_dead_letters(self) -> bool:
        """Dead letters stored raw (schema 1) get their sink's PII policy once, with one log line; the deliverer's job.

        Only the holder of the delivery lock converts: a converted letter is replayed with its tag,
        which only a deliverer of this version honours. On a store fault (full disk, read-only) the
        conversion is deferred (False; what was converted stays converted) rather than failing the start.
        """
        try:
            converted = self.buffer.convert_dead_letters({name: pii.convert_letter for name, pii in self.pii.items()})
        except (BufferFullError, BufferUnavailableError) as exc:
            log.warning("converting dead letters stored raw by an earlier version is deferred (retried every %gs): %s",
                        CONVERT_RETRY_SECONDS, exc)
            return False
        if converted:
            left = self.buffer.raw_dead_letters()
            log.warning(
                "converted %d dead letter(s) stored raw by an earlier version to their sink's PII policy (%s)%s",
                sum(converted.values()), ", ".join(f"{k}: {v}" for k, v in converted.items()),
                f"; {sum(left.values())} of sinks no longer configured stay as stored and are shown without email, ip and userAgent"
                if left else "",
            )
        return True

    def _retry_conversion(self) -> None:
        while not self._closed.wait(CONVERT_RETRY_SECONDS):
            if self.convert_pending_dead_letters():
                return

    def replay_dead_letters(self, sink: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-queue a sink's dead letters; they carry the policy they were stored under, which is never applied twice."""
        if sink not in self.config.sinks:
            raise KeyError(sink)
        self.require_tag_reader("dlq replay")
        current = self.pii[sink]
        changed = {
            tag: n for tag, n in self.buffer.dead_letter_tags(sink).items() if tag not in (None, current.tag, UNDECODABLE_TAG)
        }
        for tag, n in changed.items():
            log.warning(
                "sink %r: %d dead letter(s) were stored under another PII policy (%s); the current policy wins where it can "
                "without transforming a value twice (a hash or mask cannot be undone, a masked value under hash is dropped)",
                sink, n, "; ".join(current.changes_since(tag)),
            )
        count = self.buffer.replay_dead_letters(sink, progress)
        for worker in self.workers.values():
            worker.wake.set()
        return count

    def purge_dead_letters(self, sink: str | None = None, older_than: float | None = None) -> int:
        return self.buffer.purge_dead_letters(sink, older_than)

    # -- status --------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The /v1/status document of DESIGN.md."""
        with self._status_lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        stats = self.buffer.stats()
        self.metrics.buffer_bytes.set(stats["bytes"])
        self.metrics.buffer_events.set(stats["events"])
        self.metrics.buffer_max_bytes.set(stats["maxBytes"])
        sinks: dict[str, Any] = {}
        rows = self.buffer.sinks()
        last_seq = stats["lastSeq"]  # read before the rows: what is appended meanwhile counts at the next status
        for row in rows:
            if row.name not in self.config.sinks:
                continue
            lag = self._lag.events(row.name, row.cut_through, row.in_flight, last_seq)
            worker = self.workers.get(row.name)
            state, live_error = worker.status_snapshot() if worker else (row.state, None)
            last_error = live_error or row.last_error
            self.metrics.lag.labels(row.name).set(lag)
            route = self.routes.get(row.name)
            oldest = age_seconds(oldest_pending_received(self.buffer, row, route.takes if route else None, lag - row.in_flight),
                                 self.clock())
            self.metrics.observe_backlog(row.name, dlq_events=row.dlq_events, oldest_age=oldest)
            new_drops = row.dropped - self._dropped_seen.get(row.name, row.dropped if not self._delivering else 0)
            if new_drops > 0:
                self.metrics.dropped.labels(row.name).inc(new_drops)
            self._dropped_seen[row.name] = row.dropped
            sinks[row.name] = {
                "type": row.type,
                "state": state,
                "lagEvents": lag,
                "lagBytes": row.lag_bytes,
                "delivered": row.delivered,
                "duplicates": row.duplicates,
                "retries": row.retries,
                "deadLettered": row.dead_lettered,
                "dlqEvents": row.dlq_events,
                "dropped": row.dropped,
                "lastError": last_error,
                "lastDeliveryAt": row.last_delivery_at,
                "oldestPendingAgeSeconds": oldest,
            }
            if isinstance(worker, RemoteSink):  # its adapter runs in a delivery process, which reports its warnings
                sinks[row.name]["deliveryRestarts"] = self.metrics.delivery_restarts_of(row.name)  # threads: no such figure
                warnings = worker.adapter_warnings()
            else:
                adapter = self.adapters.get(row.name)
                warnings = adapter.warnings() if adapter is not None else {}
            if warnings:
                sinks[row.name]["warnings"] = warnings
        self._lag.forget_below(min((row.cut_through for row in rows if row.name in self.config.sinks), default=0))
        document: dict[str, Any] = {
            "version": __version__,
            "uptimeSeconds": round(self.monotonic() - self._started_mono, 3),
            "delivering": self._delivering,
            "buffer": {"events": stats["events"], "bytes": stats["bytes"], "maxBytes": stats["maxBytes"]},
            "sinks": sinks,
            "refused": self.metrics.refusals(),  # since this process started (authlog_events_refused_total...)
        }
        if self.validator.enricher is not None:  # since this process started, by look-up (authlog_enrichment_failures_total)
            document["enrichmentFailures"] = self.metrics.enrichment_failure_counts()
        fleet = self.buffer.fleet_status()
        if fleet is not None:  # JetStream: the members seen, per sink the consumer's figures and this member's share
            document["fleet"] = fleet
            self.metrics.note_fleet(fleet)
        forgotten = self.buffer.forgotten_sinks()
        if forgotten:
            total = sum(forgotten.values())
            document["dropped"] = {"sink_removed": total}
            document["forgottenSinks"] = {name: {"dropped": n, "reason": "sink_removed"} for name, n in sorted(forgotten.items())}
            seen = self._dropped_seen.get("", 0)  # the persisted total, counted once per process
            if total > seen:
                self.metrics.events_dropped.labels("sink_removed").inc(total - seen)
            self._dropped_seen[""] = total
        errors = self._sink_errors({row.name for row in rows})
        if errors:
            document["errors"] = errors
        warnings = [] if self._delivering else self._policy_differences()
        if warnings:
            document["warnings"] = warnings
        return document
