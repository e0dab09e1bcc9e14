"""How a request body becomes committed events: on the server's threads, or in the ingest process.

``post_events`` hands each body to one of two engines with the same answer and the same errors:

- :class:`ThreadIngest` splits and validates on the validator thread (in turns, ``turns.py``) and
  commits on the writer thread, in the server's process (``[server] ingest = "thread"``, and apps
  that build the aiohttp app themselves);
- :class:`ProcessIngest` (``[server] ingest = "process"``, the default of ``authlog run``) does the
  same work in the ingest process (:mod:`shippers.sidecar.ingest_child`) through
  :class:`IngestProcess`; the two threads only wait for its answers, so the server's process keeps
  its interpreter for HTTP and delivery.

Either way the turns of several requests interleave the same way, a 202 means "durably
committed", and the metrics, the workers' wake-up and a full sink's "blocked" state are the
server process's, as before. If the ingest process dies it is started again on the next request
(at most once per RESPAWN_SECONDS); meanwhile requests are answered 503 with Retry-After and
``/readyz`` says why. A request whose commit was under way when it died may have been stored:
the producer's retry then stores it twice (at-least-once, as after a crash of the sidecar).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

import msgspec

from shippers import errors
from shippers.child_process import code_refusal, start_child
from shippers.code_identity import CodeChanged
from shippers.config import Config, EnrichConfig, FilePath
from shippers.errors import BufferError, BufferFullError
from shippers.ingest import IngestResult
from shippers.metrics import refusal_reason
from shippers.sidecar.body import BodyError, BodyLimits, split_body
from shippers.sidecar.ingest_child import IngestSettings
from shippers.sidecar.turns import VALIDATE_TURN_ITEMS, validate_in_turns

log = logging.getLogger(__name__)

# Why: a Python interpreter with the validator and the store imports in well under a second; ten
# seconds allows a loaded machine and still fails a start-up that hangs.
START_TIMEOUT_SECONDS = 10.0
# Why: an ingest process that dies at once on every start (a broken install) is not restarted in a
# busy loop: requests meanwhile get 503 at once.
RESPAWN_SECONDS = 1.0


class IngestUnavailable(errors.BufferError):
    """The ingest process is not running (it died, or cannot start); nothing was stored: retry."""

    kind = "ingest_unavailable"
    retry_after = 1.0


class IngestEngine(Protocol):
    async def run(self, body: list[bytes], content_type: str | None, content_encoding: str | None) -> IngestResult: ...

    def not_ready(self) -> str | None: ...

    def halted(self) -> str | None: ...

    def close(self) -> None: ...


class ThreadIngest:
    """Split, validate and commit in this process (validator thread, then writer thread)."""

    def __init__(self, shipper: Any, limits: BodyLimits, validators: ThreadPoolExecutor, writer: ThreadPoolExecutor) -> None:
        self.shipper, self.limits, self.validators, self.writer = shipper, limits, validators, writer

    async def run(self, body: list[bytes], content_type: str | None, content_encoding: str | None) -> IngestResult:
        """``body`` holds the raw bytes once; it is emptied so they are freed as soon as they are split."""
        loop = asyncio.get_running_loop()
        items = await loop.run_in_executor(self.validators, split_body, body.pop(), content_type, content_encoding, self.limits)
        validated = await validate_in_turns(self.validators, self.shipper, items)  # turns.py: fair to others
        del items
        result: IngestResult = await loop.run_in_executor(self.writer, self.shipper.commit_validated, validated)
        return result

    def not_ready(self) -> str | None:
        return None

    def halted(self) -> str | None:
        return None

    def close(self) -> None:
        pass


class ProcessIngest:
    """Split, validate and commit in the ingest process; this process counts and wakes (module docstring)."""

    def __init__(self, shipper: Any, limits: BodyLimits, process: IngestProcess,
                 validators: ThreadPoolExecutor, writer: ThreadPoolExecutor) -> None:
        self.shipper, self.limits, self.process, self.validators, self.writer = shipper, limits, process, validators, writer

    async def run(self, body: list[bytes], content_type: str | None, content_encoding: str | None) -> IngestResult:
        loop = asyncio.get_running_loop()
        split = self.validators.submit(self.process.split, body.pop(), content_type, content_encoding, self.limits)
        try:
            request_id, count = await asyncio.wrap_future(split)
        except asyncio.CancelledError:  # the split goes on in its thread: the request it makes is dropped once it is made
            split.add_done_callback(self._drop_once_split)
            raise
        settled = False
        try:
            for start in range(0, max(count, 1), VALIDATE_TURN_ITEMS):
                reasons, failures = await loop.run_in_executor(self.validators, self.process.validate, request_id, start, VALIDATE_TURN_ITEMS)
                for reason, n in reasons.items():
                    self.shipper.metrics.count_rejected(reason, n)
                for lookup, n in failures.items():  # the ingest process's enricher: counted here, as in-process ones are
                    self.shipper.metrics.count_enrichment_failure(lookup, n)
            settled = True  # the commit ends the request in the ingest process, whatever it answers
            accepted, rejected, duplicates = await loop.run_in_executor(self.writer, self._commit, request_id)
        finally:
            if not settled:  # cancelled (the drain's deadline) or failed: the ingest process forgets the request
                self.validators.submit(self.process.drop, request_id)
        return IngestResult(accepted, rejected, duplicates)

    def _drop_once_split(self, split: Future[tuple[int, int]]) -> None:
        if split.cancelled() or split.exception() is not None:
            return
        try:
            self.validators.submit(self.process.drop, split.result()[0])  # never on the event loop: drop waits for the lock
        except RuntimeError:  # the executor is shut down: the ingest process is being closed with all it holds
            pass

    def _commit(self, request_id: int) -> tuple[int, list[tuple[int, str]], int]:
        """Commit, and count and wake on this thread: a request cancelled meanwhile still counts what it stored."""
        try:
            accepted, rejected, counts, duplicates = self.process.commit(request_id)
        except StoreRefused as refused:
            exc = refused.error
            self.shipper.metrics.count_refused(refusal_reason(exc), refused.events)
            if refused.fault:  # the store's own failure (full disk...): this process's readiness shows it too
                self.shipper.buffer.fault = exc
                self.shipper.metrics.store_errors.labels(str(getattr(exc, "kind", "other"))).inc()
            if isinstance(exc, BufferFullError):
                self.shipper.note_refused(exc)
            raise exc from None
        self.shipper.note_committed(counts)
        if duplicates:
            self.shipper.metrics.count_duplicates(duplicates)
        return accepted, rejected, duplicates

    def not_ready(self) -> str | None:
        return self.process.not_ready()

    def halted(self) -> str | None:
        """Why the ingest process is never started again (status ``errors`` says it), or None."""
        return self.process.halted

    def close(self) -> None:
        self.process.close()


class StoreRefused(Exception):
    """The ingest process's commit met a store error (rebuilt here as ``error``)."""

    def __init__(self, error: BufferError, events: int, fault: bool) -> None:
        self.error, self.events, self.fault = error, events, fault


class IngestProcess:
    """The ingest process, started on first use and again after it dies; one round trip at a time."""

    def __init__(self, settings: IngestSettings, *, monotonic: Any = time.monotonic) -> None:
        self.settings = settings
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._conn: Connection | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._failed_at = float("-inf")
        self._why: str | None = None  # why it is not running, once a start or a round trip failed
        self.halted: str | None = None  # why it is never started again (the installed code changed): restart the sidecar
        self._closed = False

    @classmethod
    def for_config(cls, config: Config) -> IngestProcess:
        settings = IngestSettings(
            buffer=msgspec.structs.replace(config.buffer, path=FilePath(os.path.abspath(config.buffer.path))),
            catalog_extra=os.path.abspath(config.catalog.extra) if config.catalog.extra else None,
            routes={s.name: s.common.route for s in config.sinks.values()},
            enrich=_absolute_paths(config.enrich),
        )
        return cls(settings)

    @property
    def pid(self) -> int | None:
        """The running ingest process's pid (None before the first start or after it died)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def warm(self) -> None:
        """Start the process now (at the sidecar's start-up) rather than on the first request; raises IngestUnavailable."""
        with self._lock:
            self._running()

    # -- operations (blocking: run them on a thread) -----------------------------------------
    def split(self, body: bytes, content_type: str | None, content_encoding: str | None, limits: BodyLimits) -> tuple[int, int]:
        """Hand over a body; (request id, number of items), or BodyError with the status to answer."""
        request_id = next(self._ids)
        answer = self._call(("split", request_id, body, content_type, content_encoding, limits))
        if answer[0] == "body":
            raise BodyError(answer[1], answer[2])
        return request_id, int(answer[1])

    def validate(self, request_id: int, start: int, count: int) -> tuple[Counter[str], Counter[str]]:
        """(rejections by reason, enrichment look-ups failed since the last answer, by look-up)."""
        answer = self._call(("validate", request_id, start, count))
        if answer[0] == "recursion":
            raise RecursionError("an item is nested too deeply")
        return Counter(answer[1]), Counter(answer[2])

    def commit(self, request_id: int) -> tuple[int, list[tuple[int, str]], dict[tuple[str, str], int], int]:
        """(accepted, rejected, counts by (type, outcome), duplicates the store already held)."""
        answer = self._call(("commit", request_id))
        if answer[0] == "store":
            _, name, message, retry_after, sink, kind, fault, events = answer
            raise StoreRefused(_store_error(name, message, retry_after, sink, kind), events, fault)
        if answer[0] == "recursion":
            raise RecursionError("an item is nested too deeply")
        return int(answer[1]), [tuple(r) for r in answer[2]], answer[3], int(answer[4])  # type: ignore[misc]

    def drop(self, request_id: int) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(("drop", request_id))
                except OSError:
                    self._lost("the ingest process went away")

    def _call(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        with self._lock:
            conn = self._running()
            try:
                conn.send(message)
                answer: tuple[Any, ...] = conn.recv()
            except (EOFError, OSError) as exc:
                self._lost(f"the ingest process ended ({type(exc).__name__}); it is started again on the next request")
                raise IngestUnavailable(f"{self._why}; nothing of this request is known to be stored: retry it") from None
        if answer[0] == "unknown":  # split by an ingest process that died; this one was started since
            raise IngestUnavailable("the ingest process was restarted while this request was in progress; nothing of it is stored: retry it")
        if answer[0] == "error":
            raise RuntimeError(f"the ingest process failed on {message[0]!r}: {answer[1]}")
        return answer

    # -- the process -----------------------------------------------------------------------
    def _running(self) -> Connection:
        if self._conn is not None and self._proc is not None and self._proc.poll() is None:
            return self._conn
        if self._closed:
            raise IngestUnavailable("the sidecar is shutting down")
        if self.halted is not None:
            raise IngestUnavailable(f"the ingest process is not started again: {self.halted}")
        if self._conn is not None:
            self._lost("the ingest process ended")
        if self.monotonic() - self._failed_at < RESPAWN_SECONDS:
            raise IngestUnavailable(f"{self._why or 'the ingest process is not running'}; retry shortly")
        try:
            self._start()
        except CodeChanged as exc:  # starting it again would only meet the same code: refuse until a restart
            self._failed_at, self._why, self.halted = self.monotonic(), str(exc), str(exc)
            log.error("the ingest process refused to start: %s; not starting it again (requests are answered 503)", exc)
            raise IngestUnavailable(f"the ingest process is not started again: {exc}") from None
        except Exception as exc:
            self._failed_at = self.monotonic()
            self._why = f"the ingest process does not start: {type(exc).__name__}: {exc}"
            log.error("%s", self._why)
            raise IngestUnavailable(self._why) from None
        assert self._conn is not None
        return self._conn

    def _start(self) -> None:
        proc, parent_end = start_child("shippers.sidecar.ingest_child")
        conn = Connection(parent_end.detach())
        hello: tuple[Any, ...] | None = None
        try:
            conn.send(self.settings)
            if not conn.poll(START_TIMEOUT_SECONDS):
                raise TimeoutError(f"no answer within {START_TIMEOUT_SECONDS:.0f}s")
            hello = conn.recv()
            if hello[0] != "ready":
                raise RuntimeError(str(hello[1]))
        except BaseException:
            proc.kill()  # (a child that exited keeps its exit status)
            proc.wait()
            refused = code_refusal(proc, conn, hello)
            conn.close()
            if refused is not None:
                raise refused from None
            raise
        self._conn, self._proc, self._why = conn, proc, None
        log.info("ingest process %d started", hello[1])

    def _lost(self, why: str) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
        self._conn, self._proc = None, None
        self._failed_at, self._why = self.monotonic(), why
        log.error("%s", why)

    def not_ready(self) -> str | None:
        """Why ingest cannot work now, or None. Blocking: a dead process is started again here (at most once per
        RESPAWN_SECONDS), so ``/readyz`` never says ready over an ingest process that cannot run, with or without traffic."""
        if not self._lock.acquire(blocking=False):
            return None  # a round trip is under way: the process runs
        try:
            if not self._closed:
                self._running()
        except IngestUnavailable as exc:
            return str(exc)
        finally:
            self._lock.release()
        return None

    def close(self, timeout: float = 5.0) -> None:
        """End the process: it finishes the round trip in progress (the lock), sees its socket close, and exits."""
        with self._lock:
            self._closed = True
            conn, proc, self._conn, self._proc = self._conn, self._proc, None, None
        if conn is not None:
            conn.close()
        if proc is not None:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _store_error(name: str, message: str, retry_after: float | None, sink: str | None, kind: str | None) -> BufferError:
    """The ingest process's store error, rebuilt as the same class with the same fields."""
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BufferError)):
        cls = errors.BufferUnavailableError
    if issubclass(cls, errors.BufferFullError):
        return cls(message, retry_after=retry_after or 1.0, sink=sink, kind=kind or "full")
    if issubclass(cls, errors.BufferUnavailableError):
        return cls(message, retry_after=retry_after or 1.0, kind=kind or "unavailable")
    try:
        return cls(message)
    except TypeError:  # a class with more fields than a message (never raised by an append today)
        return errors.BufferUnavailableError(message)


def _absolute_paths(enrich: EnrichConfig) -> EnrichConfig:
    """``[enrich]`` with its database paths absolute (the ingest process may run elsewhere)."""
    return msgspec.structs.replace(
        enrich,
        geoip_db=FilePath(os.path.abspath(enrich.geoip_db)) if enrich.geoip_db else None,
        asn_db=FilePath(os.path.abspath(enrich.asn_db)) if enrich.asn_db else None,
    )
