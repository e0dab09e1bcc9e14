"""Fault injection for the ``file`` sink: parallel sends with rotation, disk full part-way, torn tails."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from adapters.contract import Request
from adapters.file import FileAdapter, FileConfig
from shippers.config import ByteSize, FilePath
from shippers.event import encode_event
from shippers.shipper import Shipper
from shippers.testing.contract import contract_context, sample_events

# Why: thousands of events in batches of a few dozen give hundreds of parallel sends and rotations.
PARALLEL_EVENTS = 4000
# Why: about one batch of 25 events per file: nearly every send rotates, so racing sends meet there.
SMALL_FILE_BYTES = 4 * 1024
# Why: big enough for a few batches of sample events, small enough to fill in a moment.
TMPFS_SIZE = "256k"
# Why: the space left on the full tmpfs: part of the big batch fits, the rest does not.
PARTIAL_ROOM = 16 * 1024
# Why: copies of the sample events in the big batch: well over PARTIAL_ROOM, well under TMPFS_SIZE.
BIG_BATCH_COPIES = 6


def make(path: Path, **kwargs: object) -> FileAdapter:
    return FileAdapter(contract_context("local"), FileConfig(path=FilePath(str(path)), **kwargs))  # type: ignore[arg-type]


def request_for(adapter: FileAdapter, events: list, batch_id: int = 1) -> Request:
    docs = [adapter.map(e) for e in events]
    return Request(batch_id, "local", "", None, 1, len(events), events, docs, [adapter.encode_item(d) for d in docs])


def three_delivered(out: Path) -> tuple[FileAdapter, list, bytes]:
    """A file sink at ``out`` that has delivered the first three sample events: (the adapter, the events, the file's bytes)."""
    adapter = make(out)
    events = sample_events()
    assert adapter.send(request_for(adapter, events[:3])).kind == "delivered"
    return adapter, events, out.read_bytes()


def output_files(path: Path) -> list[Path]:
    """The current file and every rotated one (``<path>.<N>``)."""
    rotated = [p for p in path.parent.iterdir() if p.name.startswith(path.name + ".") and p.name[len(path.name) + 1 :].isdigit()]
    return [*rotated, path] if path.exists() else rotated


def ids_in(path: Path) -> Counter[str]:
    """Every id across the current and rotated files; every line must parse as JSON."""
    ids: Counter[str] = Counter()
    for file in output_files(path):
        for number, line in enumerate(file.read_bytes().splitlines(), 1):
            try:
                ids[json.loads(line)["id"]] += 1
            except ValueError as exc:
                raise AssertionError(f"{file.name} line {number} is not JSON: {line[:80]!r}") from exc
    return ids


def ingest(shipper: Shipper, n: int) -> list[str]:
    ids = [f"p-{i}" for i in range(n)]
    result = shipper.ingest_raw([b'{"id":"%s","type":"login.completed","userId":"u"}' % i.encode() for i in ids])
    assert result.accepted == n and not result.rejected
    return ids


@pytest.mark.parametrize("concurrency", [1, 4])
def test_parallel_sends_with_rotation_keep_every_delivered_line(
    make_shipper: Callable[..., Shipper], tmp_path: Path, concurrency: int
) -> None:
    """With small files and several sends in flight, every delivered id is in exactly one line across all files and the count is status' delivered."""
    out = tmp_path / "out" / "events.ndjson"
    sink = {
        "type": "file",
        "path": str(out),
        "max_file_bytes": SMALL_FILE_BYTES,
        "concurrency": concurrency,
        "batch": {"max_events": 25},
    }
    shipper = make_shipper({"local": sink})
    ids = ingest(shipper, PARALLEL_EVENTS)
    assert shipper.flush(60)
    written = ids_in(out)
    delivered = shipper.status()["sinks"]["local"]["delivered"]
    assert delivered == PARALLEL_EVENTS
    assert sorted(written) == sorted(ids), f"{PARALLEL_EVENTS - len(written)} delivered ids missing from the files"
    assert sum(written.values()) == delivered, [i for i, n in written.items() if n > 1][:5]
    assert len(output_files(out)) > 10  # the rotations really happened


class DiskFullAfter:
    """``os.write`` that writes ``budget`` bytes to one file, then fails with ENOSPC (a disk filling up mid-write)."""

    def __init__(self, target: Path, budget: int) -> None:
        self.target = target
        self.budget = budget
        self.failures = 0
        self.real_write = os.write

    def __call__(self, fd: int, data: bytes) -> int:
        if not self._is_target(fd):
            return self.real_write(fd, data)
        if self.budget <= 0:
            self.failures += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self.real_write(fd, bytes(data[: self.budget]))
        self.budget -= written
        return written

    def _is_target(self, fd: int) -> bool:
        try:
            here, there = os.fstat(fd), os.stat(self.target)
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def test_disk_full_part_way_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails with ENOSPC after part of a batch leaves the file byte for byte as before, says "disk full" and the path, and the retry writes each line once."""
    out = tmp_path / "events.ndjson"
    adapter, events, before = three_delivered(out)

    full = DiskFullAfter(out, budget=len(before) // 2 + 7)  # part of the second batch, cut mid-line
    monkeypatch.setattr(os, "write", full)
    verdict = adapter.send(request_for(adapter, events[3:9], batch_id=2))
    assert full.failures == 1  # the fault really bit, after a partial write
    assert verdict.kind == "retry"
    assert "disk full" in verdict.reason and str(out) in verdict.reason
    assert out.read_bytes() == before

    monkeypatch.setattr(os, "write", full.real_write)  # space freed
    assert adapter.send(request_for(adapter, events[3:9], batch_id=2)).kind == "delivered"
    assert ids_in(out) == Counter(e.id for e in events[:9])


def test_disk_full_right_after_a_rotation_rolls_back_into_an_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that rotates the file and then hits a full disk leaves the rotated file whole and the new one empty; the retry neither rotates again nor duplicates."""
    out = tmp_path / "events.ndjson"
    events = sample_events()
    adapter = make(out, max_file_bytes=ByteSize(len(encode_event(events[0])) * 5))
    assert adapter.send(request_for(adapter, events[:4])).kind == "delivered"
    first = out.read_bytes()

    full = DiskFullAfter(out, budget=10)
    monkeypatch.setattr(os, "write", full)
    assert adapter.send(request_for(adapter, events[4:8], batch_id=2)).kind == "retry"
    assert full.failures == 1
    assert (tmp_path / "events.ndjson.1").read_bytes() == first
    assert out.read_bytes() == b""

    monkeypatch.setattr(os, "write", full.real_write)
    assert adapter.send(request_for(adapter, events[4:8], batch_id=2)).kind == "delivered"
    assert sorted(p.name for p in output_files(out)) == ["events.ndjson", "events.ndjson.1"]  # no empty file rotated away
    assert ids_in(out) == Counter(e.id for e in events[:8])


def test_a_failed_cut_back_is_finished_before_the_next_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the cut back after a disk-full write fails too, the reason says so and the next send removes the partial write before appending."""
    out = tmp_path / "events.ndjson"
    adapter, events, before = three_delivered(out)

    full = DiskFullAfter(out, budget=100)
    monkeypatch.setattr(os, "write", full)

    def broken_ftruncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "ftruncate", broken_ftruncate)
    verdict = adapter.send(request_for(adapter, events[3:9], batch_id=2))
    assert verdict.kind == "retry" and "disk full" in verdict.reason and "cut back before the next attempt" in verdict.reason
    assert len(out.read_bytes()) == len(before) + 100  # the partial write is still there

    monkeypatch.undo()
    assert adapter.send(request_for(adapter, events[3:9], batch_id=2)).kind == "delivered"
    assert out.read_bytes().startswith(before)
    assert ids_in(out) == Counter(e.id for e in events[:9])


def test_a_failed_fsync_takes_the_lines_back_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An fsync error after a complete write (the lines may never reach the disk) cuts them back out, so the retry does not double them."""
    out = tmp_path / "events.ndjson"
    adapter, events, before = three_delivered(out)
    real_fsync = os.fsync
    calls = 0

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    verdict = adapter.send(request_for(adapter, events[3:6], batch_id=2))
    assert verdict.kind == "retry"
    assert out.read_bytes() == before
    assert str(out) in verdict.reason and "as it was before this batch" in verdict.reason
    assert adapter.send(request_for(adapter, events[3:6], batch_id=2)).kind == "delivered"
    assert ids_in(out) == Counter(e.id for e in events[:6])


def test_a_torn_line_left_by_a_crash_is_cut_before_the_next_write(tmp_path: Path) -> None:
    """A partial last line (a kill -9 mid-write) is removed before the resend, so no acknowledged line is glued to garbage."""
    out = tmp_path / "events.ndjson"
    events = sample_events()
    crashed = make(out)
    assert crashed.send(request_for(crashed, events[:2])).kind == "delivered"
    whole = out.read_bytes()
    with out.open("ab") as torn:
        torn.write(request_for(crashed, events[2:3]).items[0][:40])  # the crash cut this line short
    crashed.close()  # its process is gone, and with it the path's lock

    restarted = make(out)  # the process that takes over after the crash
    assert restarted.send(request_for(restarted, events[2:5], batch_id=2)).kind == "delivered"
    assert out.read_bytes().startswith(whole)
    assert ids_in(out) == Counter(e.id for e in events[:5])


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real size-limited tmpfs (root on Linux only)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)], capture_output=True, text=True)
    except OSError as exc:
        pytest.skip(f"cannot run mount for a real full-disk test: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {TMPFS_SIZE} tmpfs (needs root on Linux): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_real_full_tmpfs_then_space_freed(small_tmpfs: Path) -> None:
    """On a real full tmpfs the send is a disk-full retry and the file is unchanged; after space is freed the retry succeeds and every line parses with each id once."""
    out = small_tmpfs / "events.ndjson"
    adapter, events, before = three_delivered(out)

    filler = small_tmpfs / "filler"
    fill = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fill, b"x" * 4096):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fill)
    os.truncate(filler, filler.stat().st_size - PARTIAL_ROOM)  # room for part of the batch only
    big = [msgspec.structs.replace(e, id=uuid.uuid4().hex) for _ in range(BIG_BATCH_COPIES) for e in events]
    assert sum(len(i) + 1 for i in request_for(adapter, big).items) > 4 * PARTIAL_ROOM  # the kernel writes part, then says ENOSPC
    verdict = adapter.send(request_for(adapter, big, batch_id=2))
    assert verdict.kind == "retry"
    assert out.read_bytes() == before
    assert "disk full" in verdict.reason and str(out) in verdict.reason

    filler.unlink()
    assert adapter.send(request_for(adapter, big, batch_id=2)).kind == "delivered"
    assert ids_in(out) == Counter(e.id for e in [*events[:3], *big])


HOLD_PATH_SCRIPT = """
import sys
from adapters.contract import Request
from adapters.file import FileAdapter, FileConfig
from shippers.testing.contract import contract_context, sample_events
adapter = FileAdapter(contract_context("local"), FileConfig(path=sys.argv[1]))
event = sample_events()[0]
verdict = adapter.send(Request(1, "local", "", None, 1, 1, [event], [event], [adapter.encode_item(event)]))
print(verdict.kind, flush=True)
sys.stdin.read()  # hold the path until the parent closes our stdin
"""

def test_a_second_process_on_the_same_path_is_refused_until_the_first_exits(tmp_path: Path) -> None:
    """While another process writes a path, a send there is a sink_error naming that process and the fix, and writes nothing; once it exits the path is taken over."""
    out = tmp_path / "events.ndjson"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_PATH_SCRIPT, str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "delivered"
        adapter = make(out)
        events = sample_events()
        verdict = adapter.send(request_for(adapter, events[1:3]))
        assert verdict.kind == "sink_error"
        assert f"pid {child.pid}" in verdict.reason and str(out) in verdict.reason and "sinks.local.path" in verdict.reason
        assert ids_in(out) == Counter([events[0].id])
    finally:
        child.communicate("", timeout=30)
    assert adapter.send(request_for(adapter, events[1:3])).kind == "delivered"
    assert ids_in(out) == Counter(e.id for e in events[:3])
    adapter.close()


def test_two_sinks_on_one_path_in_one_process_share_it(tmp_path: Path) -> None:
    """Two adapters of one process on the same path take turns: with rotation on every send, every line lands once."""
    out = tmp_path / "events.ndjson"
    events = sample_events()
    first, second = make(out, max_file_bytes=ByteSize(1)), make(out, max_file_bytes=ByteSize(1))
    for index, event in enumerate(events):
        adapter = first if index % 2 else second
        assert adapter.send(request_for(adapter, [event], batch_id=index)).kind == "delivered"
    assert ids_in(out) == Counter(e.id for e in events)
    assert len(output_files(out)) == len(events)  # one line per file: every send rotated
    first.close()
    second.close()
