"""Fault injection on the store: a full disk, a read-only store, I/O errors and locks.

Producers get 503 + Retry-After with what is wrong and where, ``emit()`` raises BufferFullError,
``/readyz`` says why it is not ready, and the sink workers outlive every store error and resume by
themselves when the store takes writes again, losing nothing that was acknowledged.

Faults are injected portably on every connection of the store (``PRAGMA max_page_count`` for a
full disk, ``PRAGMA query_only`` for a read-only store); where the machine allows (root on Linux)
one test fills a real 4 MiB tmpfs.
"""

from __future__ import annotations

import http.client
import json
import logging
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from shippers.buffer import SqliteBuffer
from shippers.errors import BufferCorruptError, BufferFullError
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.memory import MemoryAdapter, delivered_ids
from shippers.testing.sidecar_server import SidecarServer
from shippers.testing.waiting import wait_for

# Why: SQLite's default max_page_count (2**30 - 1 pages): setting it back lifts the injected full disk.
NO_PAGE_LIMIT = 1_073_741_823
# Why: the real-disk test: small enough to fill in a second, large enough for SQLite's first pages.
TMPFS_SIZE = "4m"
# Why: 3 of the 4 MiB are taken by a file the test deletes to "free space": the store then needs room
# for its backlog twice (the WAL and, after a checkpoint, the database file) plus the new requests.
FILLER_BYTES = 3 * 1024 * 1024
# Why: enough 100-event requests (~30 KiB each) to fill what the filler leaves, with margin.
MAX_FILL_REQUESTS = 400
CHUNK = 100
FAST_RETRY = {"initial": "5ms", "max": "40ms"}


class StoreFault:
    """Applies one PRAGMA on every store connection, in its own thread, while active; undoes it once lifted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pragma: str, undo: str) -> None:
        self.pragma = pragma
        self.undo = undo
        self.active = False
        self._touched: set[int] = set()
        # Both ways to a store connection: each thread's own, and the one appends share.
        for getter in ("_conn", "_appender"):
            monkeypatch.setattr(SqliteBuffer, getter, self._faulty(getattr(SqliteBuffer, getter)))

    def _faulty(self, original: Callable[[SqliteBuffer], sqlite3.Connection]) -> Callable[[SqliteBuffer], sqlite3.Connection]:
        fault = self

        def conn(buffer: SqliteBuffer) -> sqlite3.Connection:
            connection = original(buffer)
            key = id(connection)
            if fault.active:
                connection.execute(fault.pragma)
                fault._touched.add(key)
            elif key in fault._touched:
                connection.execute(fault.undo)
                fault._touched.discard(key)
            return connection

        return conn


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> StoreFault:
    # max_page_count below the current size pins it at the current size: any growth is SQLITE_FULL.
    return StoreFault(monkeypatch, "PRAGMA max_page_count=1", f"PRAGMA max_page_count={NO_PAGE_LIMIT}")


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> StoreFault:
    return StoreFault(monkeypatch, "PRAGMA query_only=ON", "PRAGMA query_only=OFF")


def body(start: int, n: int, prefix: str = "e") -> bytes:
    return "\n".join(json.dumps({"id": f"{prefix}{i}", "type": "login.completed", "userId": "u", "details": {"pad": "x" * 200}})
                     for i in range(start, start + n)).encode()


def ids(start: int, n: int, prefix: str = "e") -> set[str]:
    return {f"{prefix}{i}" for i in range(start, start + n)}


class Served(SidecarServer):
    """The real sidecar app over a real Shipper, with a one-request helper."""

    def request(self, method: str, path: str, data: bytes | None = None) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers={"Content-Type": "application/x-ndjson"} if data else {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), json.loads(response.read() or b"null")
        finally:
            conn.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Shipper], Served]]:
    started: list[Served] = []

    def start(shipper: Shipper) -> Served:
        server = Served(shipper).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()




def store_errors(shipper: Shipper, kind: str) -> float:
    return shipper.metrics.registry.get_sample_value("authlog_store_errors_total", {"kind": kind}) or 0.0


def fill(server: Served, acked: set[str], start: int, where: str) -> tuple[int, dict[str, Any]]:
    """POST until the store is full for good: each refusal is a 503 + Retry-After naming the disk and the store,
    and at the end /readyz is 503 too; returns the next id number and the /readyz answer.

    A refusal may be followed by more 202s: after a full disk the store gives back its WAL's space
    (a checkpoint), so the disk is full for good only once the events themselves fill it.
    """
    for _ in range(MAX_FILL_REQUESTS):
        status, headers, answer = server.request("POST", "/v1/events", body(start, CHUNK))
        if status == 202:
            acked |= ids(start, CHUNK)
            start += CHUNK
            continue
        assert status == 503, answer
        assert int(headers["Retry-After"]) >= 1
        assert "the store's disk is full" in answer["error"] and where in answer["error"], answer
        ready_status, _, ready = server.request("GET", "/readyz")
        if ready_status == 503:
            assert "the store's disk is full" in ready["reason"] and where in ready["reason"], ready
            return start, ready
    raise AssertionError(f"the store was not full for good after {MAX_FILL_REQUESTS} requests")


# -- mapping ---------------------------------------------------------------------------------------


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def test_each_sqlite_failure_maps_to_an_error_that_says_what_and_where(tmp_path: Path) -> None:
    """SQLITE_FULL, READONLY, IOERR, BUSY/LOCKED and CORRUPT each become a BufferError naming the store and what to do."""
    from shippers.buffer.faults import store_fault
    from shippers.errors import BufferUnavailableError

    path = tmp_path / "buffer.sqlite3"
    cases = [
        (sqlite_error("database or disk is full", 13), BufferFullError, "the store's disk is full"),
        (sqlite_error("attempt to write a readonly database", 8), BufferUnavailableError, "read-only"),
        (sqlite_error("disk I/O error", 10 | (4 << 8)), BufferUnavailableError, "I/O error"),  # SQLITE_IOERR_READ
        (sqlite_error("database is locked", 5), BufferUnavailableError, "locked"),
        (sqlite_error("database table is locked", 6), BufferUnavailableError, "locked"),
        (sqlite_error("database disk image is malformed", 11), BufferCorruptError, "cannot be read"),
    ]
    for error, kind, words in cases:
        mapped = store_fault(error, path)
        assert isinstance(mapped, kind), (error, mapped)
        assert words in str(mapped) and str(path) in str(mapped), mapped
        assert getattr(mapped, "retry_after", 1.0) > 0


# -- full disk -------------------------------------------------------------------------------------


def test_append_on_a_full_disk_is_buffer_full_naming_the_store(tmp_path: Path, disk_full: StoreFault) -> None:
    """An append that the disk cannot hold raises BufferFullError (the path, 'disk is full'), stores nothing, and works once space returns."""
    buffer = SqliteBuffer(tmp_path / "buf", max_bytes=1 << 30)
    disk_full.active = True
    with pytest.raises(BufferFullError) as caught:
        for start in range(0, 10_000, CHUNK):  # the first append past the pinned size fails
            buffer.append(_events(start, CHUNK))
    assert "the store's disk is full" in str(caught.value) and str(buffer.file) in str(caught.value)
    assert caught.value.retry_after > 0 and caught.value.sink is None
    before = buffer.stats()["events"]
    disk_full.active = False
    assert buffer.append(_events(20_000, CHUNK)) == before + CHUNK
    buffer.close()


def _events(start: int, n: int) -> list[Any]:
    from shippers.catalog import builtin_catalog
    from shippers.event import EventValidator, encode_event

    validator = EventValidator(builtin_catalog())
    out = []
    for i in range(start, start + n):
        event = validator.from_fields({"type": "login.completed", "id": f"e{i}", "userId": "u", "details": {"pad": "x" * 200}})
        out.append((event, encode_event(event)))
    return out


def test_after_a_full_disk_the_probe_gives_back_the_wal_space(tmp_path: Path) -> None:
    """Once a write failed on a full disk, probing the store first checkpoints and truncates the WAL (freeing its disk space)."""
    buffer = SqliteBuffer(tmp_path / "buf", max_bytes=1 << 30)
    for start in range(0, 3000, CHUNK):
        buffer.append(_events(start, CHUNK))
    wal = buffer.file.with_name(buffer.file.name + "-wal")
    before = wal.stat().st_size
    assert before > 1024 * 1024  # far below WAL_CHECKPOINT_PAGES: SQLite would not have checkpointed yet
    buffer.fault = BufferFullError("the store's disk is full", kind="disk_full")
    buffer.probe_write()
    assert wal.stat().st_size < before // 10
    assert buffer.fault is None and buffer.stats()["events"] == 3000
    buffer.close()


def test_emit_raises_buffer_full_when_the_disk_is_full(make_shipper: Callable[..., Shipper], disk_full: StoreFault) -> None:
    """emit() on a full disk raises BufferFullError after emit_timeout (not sqlite3.OperationalError)."""
    shipper = make_shipper({"a": {"type": "memory"}}, buffer={"emit_timeout": "0s"}, start=False)
    disk_full.active = True
    with pytest.raises(BufferFullError, match="disk is full"):
        for i in range(10_000):
            shipper.emit("login.completed", id=f"e{i}", userId="u", details={"pad": "x" * 400})
    assert store_errors(shipper, "disk_full") >= 1


def test_ingest_is_503_with_retry_after_and_readyz_says_why(
    make_shipper: Callable[..., Shipper], serve: Callable[[Shipper], Served], disk_full: StoreFault
) -> None:
    """On a full disk ingest answers 503 + Retry-After naming the store, /readyz is 503 with the reason; both recover by themselves."""
    shipper = make_shipper({"a": {"type": "memory", "retry": FAST_RETRY}})
    server = serve(shipper)
    assert server.request("POST", "/v1/events", body(0, CHUNK))[0] == 202
    acked = ids(0, CHUNK)
    disk_full.active = True
    start, ready = fill(server, acked, CHUNK, str(shipper.buffer.file))
    assert str(shipper.buffer.file) in ready["reason"]
    disk_full.active = False
    wait_for(lambda: server.request("POST", "/v1/events", body(start, CHUNK))[0] == 202, "ingest resumes")
    acked |= ids(start, CHUNK)
    wait_for(lambda: server.request("GET", "/readyz")[0] == 200, "/readyz is 200 again")
    assert shipper.flush(20)
    assert acked <= set(delivered_ids("a"))
    assert shipper.workers["a"].alive


# -- read-only store -------------------------------------------------------------------------------


def test_workers_survive_a_read_only_store_and_resume(
    make_shipper: Callable[..., Shipper], serve: Callable[[Shipper], Served], read_only: StoreFault,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """With every write refused (read-only), the worker stays alive, backs off, counts it, and delivers everything once writable."""
    shipper = make_shipper({"a": {"type": "memory", "retry": FAST_RETRY}}, start=False)
    shipper.ingest_raw([line for line in body(0, 300).splitlines()])

    opened: list[MemoryAdapter] = []

    def open_then_turn_read_only(adapter: MemoryAdapter) -> None:  # the store turns read-only once the worker runs
        if not opened:
            read_only.active = True
        opened.append(adapter)

    monkeypatch.setattr(MemoryAdapter, "open", open_then_turn_read_only)
    shipper.start()
    server = serve(shipper)
    worker = shipper.workers["a"]
    wait_for(lambda: not worker.alive or store_errors(shipper, "read_only") >= 5, "the worker met the read-only store several times")
    assert shipper.workers["a"].alive, "the sink worker died on a store error"
    said = [r for r in caplog.records if r.name == "shippers.worker" and r.levelno >= logging.WARNING]
    assert len(said) == 1 and "read-only" in said[0].getMessage(), [r.getMessage() for r in said]  # once, not per retry
    status, headers, answer = server.request("POST", "/v1/events", body(300, 10))
    assert status == 503 and "Retry-After" in headers and "read-only" in answer["error"], answer
    ready_status, _, ready = server.request("GET", "/readyz")
    assert ready_status == 503 and "read-only" in ready["reason"]
    read_only.active = False
    assert shipper.flush(20)
    assert ids(0, 300) <= set(delivered_ids("a"))
    assert shipper.workers["a"].alive
    assert server.request("GET", "/readyz")[0] == 200


def test_a_worker_outlives_any_store_error_in_its_own_error_handler(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """Store errors of every kind, raised by the store and by the bookkeeping of the failure itself, never end the worker."""
    from shippers.buffer.faults import store_fault

    shipper = make_shipper({"a": {"type": "memory"}}, start=False)
    shipper.ingest_raw([line for line in body(0, 50).splitlines()])
    faults = [sqlite_error("disk I/O error", 10), sqlite_error("database or disk is full", 13),
              sqlite_error("attempt to write a readonly database", 8), sqlite_error("database is locked", 5)]
    real_cut, real_note = shipper.buffer.record_cut, shipper.buffer.note_attempt
    pending = list(faults)

    def broken(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if pending:
                raise store_fault(pending.pop(0), shipper.buffer.file)
            return real(*args, **kwargs)
        return call

    shipper.buffer.record_cut = broken(real_cut)  # type: ignore[method-assign]
    shipper.buffer.note_attempt = broken(real_note)  # type: ignore[method-assign]
    shipper._sleep = fake_sleep
    shipper.start()
    assert shipper.flush(20)
    assert not pending and shipper.workers["a"].alive
    assert ids(0, 50) <= set(delivered_ids("a"))


# -- a real full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (root on Linux); skipped, with the reason, where it cannot be mounted."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the PRAGMA max_page_count tests cover the same paths")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                    "the PRAGMA max_page_count tests cover the same paths")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def test_a_really_full_disk_refuses_ingest_and_resumes_when_space_returns(
    tmp_path: Path, small_disk: Path, serve: Callable[[Shipper], Served]
) -> None:
    """On a 4 MiB tmpfs filled by ingest while the sink is down: 503 + Retry-After and /readyz 503 with the reason; the worker
    outlives its own writes failing; once space is freed ingest resumes and every acknowledged id reaches the sink, no restart."""
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * FILLER_BYTES)
    chaos.script("a").permanent("503 down for the test", sticky=True)  # the sink is down while the disk fills: events wait
    config = {"buffer": {"path": str(small_disk / "buf")}, "sinks": {"a": {"type": "chaos", "retry": FAST_RETRY}}}
    shipper = Shipper.from_config(config, deliver=True)
    try:
        server = serve(shipper)
        acked: set[str] = set()
        start, _ = fill(server, acked, 0, str(small_disk / "buf"))
        # The sink comes back while the disk is still full: it delivers, and recording that fails.
        refused_before = store_errors(shipper, "disk_full")
        chaos.script("a").clear()
        worker = shipper.workers["a"]
        wait_for(lambda: not worker.alive or store_errors(shipper, "disk_full") >= refused_before + 3,
                 "the worker met the full disk several times")
        assert worker.alive, "the sink worker died on the full disk"
        filler.unlink()
        wait_for(lambda: server.request("POST", "/v1/events", body(start, CHUNK))[0] == 202, "ingest resumes once space is back")
        acked |= ids(start, CHUNK)
        assert shipper.flush(30), shipper.status()
        missing = acked - {e.id for e in chaos.delivered["a"]}
        assert not missing, f"{len(missing)} acknowledged events never reached the sink"
        assert worker.alive
        wait_for(lambda: server.request("GET", "/readyz")[0] == 200, "/readyz is 200 again")
    finally:
        shipper.close(5)
