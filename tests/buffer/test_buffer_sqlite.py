"""The SQLite buffer: durable appends, watermarks and garbage collection, locking, and honest errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from shippers.buffer import DeadItem, SinkPolicy, SqliteBuffer
from shippers.catalog import builtin_catalog
from shippers.errors import BufferCorruptError, BufferFullError, SinkRemovedError
from shippers.event import EventValidator, encode_event

VALIDATOR = EventValidator(builtin_catalog(), clock=lambda: 1_795_000_000.0)


def events(n: int, start: int = 0) -> list:
    out = []
    for i in range(start, start + n):
        event = VALIDATOR.from_fields({"type": "login.completed", "id": f"e{i}", "userId": "u"})
        out.append((event, encode_event(event)))
    return out


def policy(name: str, **kwargs: object) -> SinkPolicy:
    values = {"type": "memory", "when_full": "block", "max_backlog": None, "start_at": "tail", **kwargs}
    return SinkPolicy(name, **values)  # type: ignore[arg-type]


@pytest.fixture
def buffer(tmp_path: Path) -> SqliteBuffer:
    buf = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    buf.register_sinks([policy("a"), policy("b")], remove_others=True)
    return buf


def test_store_files_are_private(buffer: SqliteBuffer) -> None:
    """The database holds emails and IPs, so it is created 0600 in a 0700 folder."""
    assert stat.S_IMODE(buffer.file.stat().st_mode) == 0o600
    assert stat.S_IMODE(buffer.folder.stat().st_mode) == 0o700


def test_append_assigns_contiguous_seqs_and_survives_reopen(buffer: SqliteBuffer, tmp_path: Path) -> None:
    """Appends get seqs 1..n in order and are there after the store is reopened."""
    assert buffer.append(events(3)) == 3
    assert buffer.append(events(2, 3)) == 5
    buffer.close()
    again = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    assert [r.seq for r in again.scan(0, 100)] == [1, 2, 3, 4, 5]
    assert again.stats()["events"] == 5


def test_appends_of_every_size_store_each_row_once_in_order(buffer: SqliteBuffer) -> None:
    """Appends of 1..200 events (inserted in chunks of powers of two) store every row once, in order, with its own body
    and the running byte total; a chunking slip would lose, repeat or reorder a row."""
    sizes, start = [1, 2, 3, 7, 63, 64, 65, 127, 128, 200], 0
    expected = []
    for size in sizes:
        batch = events(size, start)
        assert buffer.append(batch) == start + size
        expected += [body for _, body in batch]
        start += size
    rows = buffer.scan(0, 10_000)
    assert [r.seq for r in rows] == list(range(1, start + 1))
    assert [bytes(r.body) for r in rows] == expected
    cums = [c for (c,) in buffer._conn().execute("SELECT cum FROM events ORDER BY seq")]
    running = 0
    for body, cum in zip(expected, cums, strict=True):
        running += len(body)
        assert cum == running


def test_appends_from_any_thread_share_one_connection_with_a_small_cache(buffer: SqliteBuffer) -> None:
    """Threads that append (each app thread may lead an emit() group) open no connection of their own: they share
    one, whose page cache is APPEND_CACHE_KIB (a 64 MiB cache would keep every page ever appended)."""
    import threading

    from shippers.buffer.sqlite import APPEND_CACHE_KIB

    own: list[object] = []

    def append(start: int) -> None:
        buffer.append(events(5, start))
        own.append(getattr(buffer._local, "conn", None))

    threads = [threading.Thread(target=append, args=(i * 5,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert own == [None, None, None] and buffer.stats()["events"] == 15
    assert buffer._append_conn is not None
    assert buffer._append_conn.execute("PRAGMA cache_size").fetchone()[0] == -APPEND_CACHE_KIB


def test_events_are_deleted_only_when_every_sink_is_done(buffer: SqliteBuffer) -> None:
    """The slowest sink's watermark pins events; garbage collection follows the minimum."""
    stored = events(4)
    buffer.append(stored)
    [batch_a] = buffer.record_cut("a", [("", None, [1, 2, 3, 4])], [], 4)
    buffer.settle(batch_a, delivered=4)
    assert buffer.position("a") == (4, 4)
    assert buffer.stats()["events"] == 4  # sink b still needs them
    [batch_b] = buffer.record_cut("b", [("", None, [1, 2])], [DeadItem(3, "x", "bad", stored[2][1])], 4)
    assert buffer.position("b") == (0, 4)  # batch [1,2] open: watermark stays below it
    buffer.settle(batch_b, delivered=2)
    assert buffer.position("b") == (4, 4)
    assert buffer.stats()["events"] == 0
    assert [(d.seq, d.reason) for d in buffer.dead_letters("b")] == [(3, "bad")]


def test_out_of_order_completion_keeps_the_low_watermark(buffer: SqliteBuffer) -> None:
    """A later batch finishing first does not move the watermark past an earlier open batch."""
    buffer.append(events(6))
    first, second = buffer.record_cut("a", [("p1", None, [1, 2, 3]), ("p2", None, [4, 5, 6])], [], 6)
    buffer.settle(second, delivered=3)
    assert buffer.position("a")[0] == 0
    buffer.settle(first, delivered=3)
    assert buffer.position("a")[0] == 6


def test_partial_settle_keeps_the_remaining_items_recorded(buffer: SqliteBuffer) -> None:
    """After per-item results only the items still to retry stay in the recorded batch."""
    buffer.append(events(3))
    [batch] = buffer.record_cut("a", [("", "key-1-3", [1, 2, 3])], [], 3)
    assert batch.key == "key-1-3"
    buffer.settle(batch, delivered=2, remaining=[2])
    [open_batch] = buffer.open_batches("a")
    assert open_batch.seqs == (2,) and open_batch.key == "key-1-3"  # the key recorded at cut time is kept
    assert buffer.position("a")[0] == 1


def test_block_when_full_raises_with_retry_after(tmp_path: Path) -> None:
    """With when_full=block an append that would pass the cap is refused whole, nothing half-written."""
    buf = SqliteBuffer(tmp_path / "buf", max_bytes=2000)
    buf.register_sinks([policy("a")], remove_others=True)
    buf.append(events(5))
    with pytest.raises(BufferFullError) as caught:
        buf.append(events(20, 5))
    assert caught.value.retry_after > 0
    assert buf.stats()["events"] == 5


def test_drop_oldest_advances_only_the_lagging_sink(tmp_path: Path) -> None:
    """drop_oldest moves the full sink past its oldest events, counts them, and leaves other sinks alone."""
    buf = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    buf.register_sinks([policy("slow", when_full="drop_oldest", max_backlog=3000), policy("fast")], remove_others=True)
    for start in range(0, 100, 10):
        buf.append(events(10, start))
    rows = {r.name: r for r in buf.sinks()}
    assert rows["slow"].dropped > 0 and rows["slow"].lag_bytes <= 3000
    assert rows["fast"].dropped == 0 and rows["fast"].lag_events == 100


def test_new_sink_starts_at_tail_or_oldest(buffer: SqliteBuffer) -> None:
    """A sink added later starts after what is stored, unless start_at = oldest."""
    buffer.append(events(3))
    buffer.register_sinks([policy("a"), policy("b"), policy("late"), policy("replay", start_at="oldest")], remove_others=True)
    positions = {r.name: r.watermark for r in buffer.sinks()}
    assert positions["late"] == 3 and positions["replay"] == 0


def test_removed_sink_stops_pinning_events_once_caught_up(buffer: SqliteBuffer) -> None:
    """A sink dropped from the config with nothing undelivered loses its position at start-up, so it pins nothing."""
    buffer.append(events(3))
    for sink in ("a", "b"):
        [batch] = buffer.record_cut(sink, [("", None, [1, 2, 3])], [], 3)
        buffer.settle(batch, delivered=3 if sink == "a" else 0, remaining=[] if sink == "a" else [3])
    with pytest.raises(SinkRemovedError, match=r"sink 'b' .* 1 undelivered"):
        buffer.register_sinks([policy("a")], remove_others=True)
    assert {r.name for r in buffer.sinks()} == {"a", "b"}  # nothing changed
    [left] = buffer.open_batches("b")
    buffer.settle(left, delivered=1)
    assert buffer.register_sinks([policy("a")], remove_others=True) == ["b"]
    assert [r.name for r in buffer.sinks()] == ["a"]
    assert buffer.stats()["events"] == 0


def test_only_one_process_delivers(buffer: SqliteBuffer, tmp_path: Path) -> None:
    """The delivery lock is exclusive; a second opener can append but not deliver."""
    assert buffer.acquire_delivery_lock()
    other = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    assert not other.acquire_delivery_lock()
    other.append(events(1))
    buffer.release_delivery_lock()
    assert other.acquire_delivery_lock()


def test_other_processes_append_to_the_same_store(buffer: SqliteBuffer, tmp_path: Path) -> None:
    """Events appended by another process arrive in the same seq order without gaps."""
    script = (
        "import sys; from tests.buffer.test_buffer_sqlite import events; from shippers.buffer import SqliteBuffer;"
        "b = SqliteBuffer(sys.argv[1], max_bytes=10*1024*1024); [b.append(events(10, i)) for i in range(0, 50, 10)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "buf")], cwd=Path(__file__).parents[2]) for _ in range(3)]
    buffer.append(events(7))
    assert all(p.wait(60) == 0 for p in procs)
    seqs = [r.seq for r in buffer.scan(0, 1000)]
    assert seqs == list(range(1, 158))


def test_garbage_file_is_reported_not_recreated(tmp_path: Path) -> None:
    """A store that is not a database fails with its path and what to do, and is left as it was."""
    folder = tmp_path / "buf"
    folder.mkdir()
    (folder / "buffer.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BufferCorruptError) as caught:
        SqliteBuffer(folder, max_bytes=1024)
    assert str(folder / "buffer.sqlite3") in str(caught.value) and "Move the folder aside" in str(caught.value)
    assert (folder / "buffer.sqlite3").read_bytes().startswith(b"this is not sqlite")


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    """An SQLite file that is not ours is refused instead of being written into."""
    import sqlite3

    folder = tmp_path / "buf"
    folder.mkdir()
    with sqlite3.connect(folder / "buffer.sqlite3") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(BufferCorruptError, match="not an authlog buffer"):
        SqliteBuffer(folder, max_bytes=1024)


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A buffer path under a regular file fails with the path and a hint."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BufferCorruptError, match="check \\[buffer\\] path"):
        SqliteBuffer(blocker / "buf", max_bytes=1024)
    assert os.path.isfile(blocker)


def test_the_delivery_lock_released_from_two_threads_at_once_is_closed_once(tmp_path: Path) -> None:
    """close() and the watcher of a send left in flight may release the lock together: the descriptor is closed once."""
    import threading

    store = SqliteBuffer(tmp_path / "buf", max_bytes=1 << 20)
    assert store.acquire_delivery_lock()
    closes: list[int] = []
    real_close = os.close
    gate = threading.Barrier(2)

    def slow_close(fd: int) -> None:  # slow, so the other thread looks at the lock while this close runs
        closes.append(fd)
        threading.Event().wait(0.05)
        real_close(fd)

    errors: list[BaseException] = []

    def release() -> None:
        gate.wait()
        try:
            store.release_delivery_lock()
        except BaseException as exc:
            errors.append(exc)

    import unittest.mock

    with unittest.mock.patch("shippers.buffer.sqlite.os.close", slow_close):
        threads = [threading.Thread(target=release) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
    assert errors == [] and len(closes) == 1
    store.close()
