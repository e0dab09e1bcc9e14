"""Sinks delivered by real delivery processes over the shared store: once each, through kills, closes and restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from shippers.buffer.presence import check_folder
from shippers.cli.run_cmds import status_table
from shippers.delivery_process.remote_sink import RemoteSink
from shippers.delivery_process.sink_lock import SinkLock
from shippers.errors import BufferCorruptError
from shippers.shipper import Shipper
from shippers.testing import memory
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.fault_front import FaultFront
from shippers.worker import SinkWorker

# Why: a bound on waiting for something another process does (never an assertion on time).
WAIT_SECONDS = 30.0


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie waiting for its reaper runs nothing


def file_sinks(tmp_path: Path, *names: str, **extra: Any) -> dict[str, Any]:
    return {name: {"type": "file", "path": str(tmp_path / f"{name}.ndjson"), **extra} for name in names}


def ids_in(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["id"] for line in path.read_text().splitlines())


def ingest(shipper: Shipper, n: int, prefix: str = "e") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    result = shipper.ingest_raw([b'{"id":"%s","type":"login.completed","userId":"u"}' % i.encode() for i in ids])
    assert result.accepted == n
    return ids


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Callable[..., Shipper]]:
    """Shippers over tmp_path/buffer with [delivery] processes (closed afterwards)."""
    made: list[Shipper] = []

    def make(sinks: dict[str, Any], processes: int | str = 2, start: bool = True, store: str = "buffer") -> Shipper:
        config = {"buffer": {"path": str(tmp_path / store)}, "delivery": {"processes": processes}, "sinks": sinks}
        shipper = Shipper.from_config(config)
        made.append(shipper)
        return shipper.start() if start else shipper

    yield make
    for shipper in made:
        shipper.close(timeout=10)


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_every_event_reaches_every_sink_once_through_the_delivery_processes(
    build: Callable[..., Shipper], tmp_path: Path, processes: int
) -> None:
    """Three file sinks in 1-3 delivery processes (not this one) each get every event exactly once."""
    shipper = build(file_sinks(tmp_path, "a", "b", "c"), processes=processes)
    assert all(isinstance(worker, RemoteSink) for worker in shipper.workers.values())
    pids = {process.pid for process in shipper.delivery_processes}
    assert len(pids) == processes and os.getpid() not in pids and None not in pids
    ids = ingest(shipper, 3000)
    assert shipper.flush(WAIT_SECONDS)
    for name in "abc":
        assert ids_in(tmp_path / f"{name}.ndjson") == Counter(ids)


def _sink_series(text: str) -> dict[str, str]:
    """The authlog_sink_* sample lines of /metrics, lag and backlog age left out (they depend on when status ran)."""
    lines = [line for line in text.splitlines() if line.startswith("authlog_sink_") and "_created" not in line]
    return dict(line.rsplit(" ", 1) for line in lines if "lag" not in line and "age" not in line)  # type: ignore[misc]


def test_status_and_metrics_show_the_childrens_sinks_as_threads_would(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """The same events give the same status fields and the same sink series in /metrics with processes as with threads,
    but for the delivery process's restarts (0), which a sink on a thread does not have."""
    seen, restarts = [], []
    for processes, folder in ((0, "threads"), (2, "processes")):
        shipper = build(file_sinks(tmp_path / folder, "a", "b"), processes=processes, store=folder)
        ingest(shipper, 500)
        assert shipper.flush(WAIT_SECONDS)
        status = shipper.status()["sinks"]
        shipper.close(10)
        restarts.append({name: sink.pop("deliveryRestarts", None) for name, sink in status.items()})
        seen.append(({name: {k: v for k, v in sink.items() if k != "lastDeliveryAt"} for name, sink in status.items()},
                     _sink_series(shipper.metrics.render().decode())))
    assert seen[0] == seen[1]
    assert restarts == [{"a": None, "b": None}, {"a": 0, "b": 0}]  # the one field only processes have
    assert seen[1][0]["a"]["delivered"] == 500 and seen[1][1]['authlog_sink_delivered_total{sink="a"}'] == "500.0"


def test_close_drains_what_waits_and_ends_the_children_before_the_lock_is_free(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """close() cuts batches still waiting for their timeout, delivers them, ends every child, then frees the store."""
    shipper = build(file_sinks(tmp_path, "a", "b", batch={"timeout": "1h"}), processes=2)
    ids = ingest(shipper, 40)
    pids = [process.pid for process in shipper.delivery_processes]
    assert shipper.close(WAIT_SECONDS)
    assert shipper.left_for_restart == 0
    for name in "ab":
        assert ids_in(tmp_path / f"{name}.ndjson") == Counter(ids)
    assert all(pid is not None and gone(pid) for pid in pids)
    for name in "ab":  # the children let go of their sinks
        lock = SinkLock(tmp_path / "buffer", name)
        assert lock.try_acquire()
        lock.release()
    assert build(file_sinks(tmp_path, "a", "b"), processes=0).delivering  # the delivery lock is free


def test_a_type_registered_in_this_process_stays_on_a_thread(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """A memory sink (a type a fresh interpreter cannot build) is delivered by this process, the file sink by a child."""
    shipper = build({"m": {"type": "memory"}, **file_sinks(tmp_path, "f")}, processes=2)
    assert isinstance(shipper.workers["m"], SinkWorker) and isinstance(shipper.workers["f"], RemoteSink)
    assert len(shipper.delivery_processes) == 1
    ids = ingest(shipper, 200)
    assert shipper.flush(WAIT_SECONDS)
    assert sorted(memory.delivered_ids("m")) == sorted(ids)
    assert ids_in(tmp_path / "f.ndjson") == Counter(ids)


def test_each_child_holds_its_sinks_locks_while_it_delivers(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """While children deliver, no other process can take their sinks' locks (a second owner would wait)."""
    shipper = build(file_sinks(tmp_path, "a", "b"), processes=2)
    for name in "ab":
        assert not SinkLock(tmp_path / "buffer", name).try_acquire()
    shipper.close(WAIT_SECONDS)
    assert SinkLock(tmp_path / "buffer", "a").try_acquire()


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from shippers.delivery_process.sink_lock import SinkLock
    assert SinkLock(Path(sys.argv[1]), sys.argv[2]).try_acquire()
    print("held", flush=True)
    time.sleep(600)
""")


def test_a_sink_lock_held_by_a_live_process_is_taken_once_that_process_is_killed(tmp_path: Path) -> None:
    """An earlier owner's lock keeps a new owner out until the kernel drops it with the process (kill -9)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), "a"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        lock = SinkLock(tmp_path, "a")
        assert not lock.try_acquire()
        assert lock.holder() == str(holder.pid)
        holder.send_signal(signal.SIGKILL)
        assert lock.acquire(WAIT_SECONDS)
    finally:
        holder.kill()
        holder.wait()


def test_sink_lock_files_are_a_stores_traces(tmp_path: Path) -> None:
    """A folder whose store is gone but whose sink locks remain is a lost store (refused), never a new one."""
    (tmp_path / "deliver.a.lock").write_text("1\n")
    with pytest.raises(BufferCorruptError, match="deliver.a.lock"):
        check_folder(tmp_path)


def test_a_child_killed_mid_send_is_restarted_and_resends_its_recorded_batch(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """kill -9 of a child while its batch is at the destination: /readyz names the sink, a new child resends that batch
    (the destination already has it: duplicates only of the batch in flight), every event is stored once."""
    with FakeElasticsearch() as es, FaultFront(es.url, lambda method, path: path.split("?")[0].endswith("/_bulk")) as front:
        sinks = {"es": {"type": "elasticsearch", "hosts": [front.url], "index": "procs", "request_timeout": "5s",
                        "batch": {"max_events": 100, "timeout": "0s"}}, **file_sinks(tmp_path, "local")}
        shipper = build(sinks, processes=2)
        child = next(process for process in shipper.delivery_processes if "es" in process.sinks)
        old_pid = child.pid
        assert old_pid is not None
        front.hold_next()
        ids = ingest(shipper, 100)
        assert front.wait_held(timeout=WAIT_SECONDS)  # the destination stored the batch; its answer is held
        os.kill(old_pid, signal.SIGKILL)
        why = wait_until(shipper.not_ready, "/readyz to say the sink stopped")
        assert "es" in why and "local" not in why
        assert shipper.status()["sinks"]["es"]["lastError"].startswith("its delivery process is not running")
        front.release()
        wait_until(lambda: child.pid not in (None, old_pid), "the child to be started again")
        assert shipper.flush(WAIT_SECONDS)
        assert sorted(es.documents("procs")) == sorted(ids)  # stored by _id: each once
        assert ids_in(tmp_path / "local.ndjson") == Counter(ids)
        sent = [r for r in front.seen if r.path.split("?")[0].endswith("/_bulk")]
        assert len(sent) == 2  # the batch in flight, and the same batch again
        status = shipper.status()["sinks"]["es"]
        assert (status["delivered"], status["duplicates"], status["state"]) == (0, 100, "active")
        assert shipper.not_ready() is None
        restarts = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in shipper.metrics.render().decode().splitlines()
                    if line.startswith("authlog_delivery_process_restarts_total")}
        assert restarts == {'authlog_delivery_process_restarts_total{sink="es"}': "1.0",  # the crash stays visible once it is over
                            'authlog_delivery_process_restarts_total{sink="local"}': "0.0"}


def _table(document: dict[str, Any]) -> str:
    """`authlog status`'s table of ``document`` at 140 columns (room for every column)."""
    console = Console(width=140, record=True, force_terminal=False, color_system=None)
    console.print(status_table(document, console))
    return console.export_text()


def test_a_killed_child_shows_as_a_restart_of_its_sinks_in_status(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """kill -9 of one of two children: its sink's deliveryRestarts is 1 in status (and the restarts column of the table),
    the other sink's stays 0, and it stays 1 once the new child delivers."""
    shipper = build(file_sinks(tmp_path, "a", "b"), processes=2)
    assert {name: sink["deliveryRestarts"] for name, sink in shipper.status()["sinks"].items()} == {"a": 0, "b": 0}
    child = next(process for process in shipper.delivery_processes if "a" in process.sinks)
    old_pid = child.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: shipper.status()["sinks"]["a"]["deliveryRestarts"] == 1, "the restart to show in status")
    wait_until(lambda: child.pid not in (None, old_pid), "the child to be started again")
    ids = ingest(shipper, 50)
    assert shipper.flush(WAIT_SECONDS)
    assert ids_in(tmp_path / "a.ndjson") == Counter(ids)
    document = shipper.status()
    assert {name: sink["deliveryRestarts"] for name, sink in document["sinks"].items()} == {"a": 1, "b": 0}
    lines = _table(document).splitlines()
    header = next(line for line in lines if line.startswith("sink")).split()
    rows = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in ("a", "b")}
    assert header[-1] == "restarts" and rows["a"][-1] == "1" and rows["b"][-1] == "0"


def test_sinks_on_threads_have_no_restarts_field_or_column(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """Without delivery processes status has no deliveryRestarts and the status table no restarts column."""
    shipper = build(file_sinks(tmp_path, "a"), processes=0)
    document = shipper.status()
    assert "deliveryRestarts" not in document["sinks"]["a"]
    assert "restarts" not in _table(document)


PARENT = textwrap.dedent("""
    import json, sys, time
    from shippers.shipper import Shipper
    folder = sys.argv[1]
    sinks = {n: {"type": "file", "path": f"{folder}/{n}.ndjson"} for n in ("a", "b")}
    shipper = Shipper.from_config({"buffer": {"path": folder + "/buffer"}, "delivery": {"processes": 2}, "sinks": sinks}, deliver=True)
    print(json.dumps([p.pid for p in shipper.delivery_processes]), flush=True)
    time.sleep(600)
""")


def test_kill_9_of_the_parent_ends_its_children(tmp_path: Path) -> None:
    """A parent killed by SIGKILL takes its delivery processes with it (PR_SET_PDEATHSIG): none delivers unsupervised."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 2 and not any(gone(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_until(lambda: all(gone(pid) for pid in pids), "the children to end with their parent")
    finally:
        parent.kill()
        parent.wait()


def test_a_delivery_process_that_cannot_start_is_named_by_readyz_and_started_once_it_can(
    build: Callable[..., Shipper], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While its interpreter cannot be started /readyz names the child's sinks and status says why; then it starts and delivers."""
    monkeypatch.setattr("shippers.child_process.sys.executable", "/nonexistent/python")
    shipper = build(file_sinks(tmp_path, "a", "b"), processes=1)
    why = shipper.not_ready()
    assert why is not None and "a, b" in why
    assert "did not start" in shipper.status()["sinks"]["a"]["lastError"]
    ids = ingest(shipper, 30)
    monkeypatch.undo()
    wait_until(lambda: shipper.not_ready() is None, "the child to start after its backoff")
    assert shipper.flush(WAIT_SECONDS)
    assert ids_in(tmp_path / "a.ndjson") == Counter(ids) == ids_in(tmp_path / "b.ndjson")


def test_close_is_not_clean_when_a_child_dies_during_the_drain(
    build: Callable[..., Shipper], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child killed while it drains at close(): close() returns False (its batch is left for the restart), never True."""
    monkeypatch.setattr("shippers.delivery_process.supervisor.RESPAWN_INITIAL_SECONDS", 600.0)  # no new child resends it meanwhile
    with FakeElasticsearch() as es, FaultFront(es.url, lambda method, path: path.split("?")[0].endswith("/_bulk")) as front:
        sinks = {"es": {"type": "elasticsearch", "hosts": [front.url], "index": "procs", "request_timeout": "30s",
                        "batch": {"timeout": "1h"}}, **file_sinks(tmp_path, "local")}
        shipper = build(sinks, processes=2)
        child = next(process for process in shipper.delivery_processes if "es" in process.sinks)
        pid = child.pid
        assert pid is not None
        front.hold_next()
        ingest(shipper, 50)
        closed: list[bool] = []
        closing = threading.Thread(target=lambda: closed.append(shipper.close(WAIT_SECONDS)))
        closing.start()
        assert front.wait_held(timeout=WAIT_SECONDS)  # the drain's send (the batch waited for its 1h timeout)
        os.kill(pid, signal.SIGKILL)
        closing.join()
        front.release()
        assert closed == [False]
        assert shipper.left_for_restart == 1


def test_a_child_hung_in_a_send_at_close_keeps_the_lock_until_the_send_returns(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """close() past its deadline with a child's send unanswered returns False and keeps the store's delivery lock;
    once the answer comes the child settles the batch and exits, and the lock is given back (nothing sent twice)."""
    with FakeElasticsearch() as es, FaultFront(es.url, lambda method, path: path.split("?")[0].endswith("/_bulk")) as front:
        sinks = {"es": {"type": "elasticsearch", "hosts": [front.url], "index": "procs", "request_timeout": "60s",
                        "batch": {"max_events": 100, "timeout": "0s"}}, **file_sinks(tmp_path, "local")}
        shipper = build(sinks, processes=2)
        pid = next(process for process in shipper.delivery_processes if "es" in process.sinks).pid
        front.hold_next()
        ids = ingest(shipper, 100)
        assert front.wait_held(timeout=WAIT_SECONDS)
        assert shipper.close(0.2) is False  # the send is held: the deadline passes with it in flight
        later = build(sinks, processes=0, start=False)
        assert not later.buffer.acquire_delivery_lock()
        front.release()
        wait_until(later.buffer.acquire_delivery_lock, "the delivery lock to be given back once the send returned")
        assert pid is not None and gone(pid)  # the child ended before the lock was free
        assert later.start().delivering
        assert later.flush(WAIT_SECONDS)
        assert sorted(es.documents("procs")) == sorted(ids)
        assert len([r for r in front.seen if r.path.split("?")[0].endswith("/_bulk")]) == 1  # settled by the child: not resent


def test_a_sink_lock_file_deleted_under_its_child_is_taken_again_before_anyone_else_can(
    build: Callable[..., Shipper], tmp_path: Path
) -> None:
    """An operator deletes deliver.a.lock while its child delivers: the child stops (its flock guards a file nobody can
    see), a new child takes the recreated lock, and another owner is kept out again (the file was free to take)."""
    shipper = build(file_sinks(tmp_path, "a", "b"), processes=1)
    process = shipper.delivery_processes[0]
    old_pid = process.pid
    lock = SinkLock(tmp_path / "buffer", "a")
    lock.path.unlink()
    new_pid = wait_until(lambda: process.pid not in (None, old_pid) and process.pid, "the child to be replaced")
    wait_until(lambda: lock.holder() == str(new_pid), "the new child to hold the recreated lock")
    assert not lock.try_acquire()
    ids = ingest(shipper, 20)
    assert shipper.flush(WAIT_SECONDS)
    assert ids_in(tmp_path / "a.ndjson") == Counter(ids)


def test_a_child_restarted_during_close_drains_and_lets_the_lock_go(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """A child killed while close() still waits on another's drain is started again before close() ends: the new one is
    told of the drain too, so it drains and exits at once and close() is clean (untold, it delivered on until the deadline)."""
    with FakeElasticsearch() as es, FaultFront(es.url, lambda method, path: path.split("?")[0].endswith("/_bulk")) as front:
        sinks = {"es": {"type": "elasticsearch", "hosts": [front.url], "index": "procs", "request_timeout": "60s",
                        "batch": {"timeout": "1h"}}, **file_sinks(tmp_path, "local", batch={"timeout": "1h"})}
        shipper = build(sinks, processes=2)
        local = next(process for process in shipper.delivery_processes if "local" in process.sinks)
        old_pid = local.pid
        front.hold_next()
        ids = ingest(shipper, 30)
        closed: list[bool] = []
        closing = threading.Thread(target=lambda: closed.append(shipper.close(WAIT_SECONDS)))
        closing.start()
        assert front.wait_held(timeout=WAIT_SECONDS)  # close() waits on the es child's drain
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: local.pid not in (None, old_pid), "the local sink's child to be started again")
        front.release()
        closing.join()
        assert closed == [True]  # the new child drained at once (untold, it delivered on and close() waited out its deadline)
        later = build(sinks, processes=0, start=False)
        assert later.buffer.acquire_delivery_lock()
        assert set(ids_in(tmp_path / "local.ndjson")) == set(ids)  # drained by one child or the other (a batch may be resent)
