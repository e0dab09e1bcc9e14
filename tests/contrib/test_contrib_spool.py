"""The spool: a full or unwritable spool costs a count, never the app; workers sharing one forward each event once."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from contrib_support import ACCEPTED, ScriptedTransport, dropped
from prometheus_client import CollectorRegistry

from shippers.contrib.drops import DropCounter
from shippers.contrib.forwarder import Forwarder
from shippers.contrib.spool import PAGE_SIZE, Spool, SpoolError

# Why: 40 pages is room for SQLite's own pages and a few dozen padded events, so the cap is reached fast.
TINY_SPOOL_BYTES = 40 * PAGE_SIZE
EVENTS_PER_WORKER = 200


def line(event_id: str, pad: int = 0) -> bytes:
    return json.dumps({"id": event_id, "type": "login.completed", "details": {"pad": "x" * pad}}).encode()


def test_a_full_spool_refuses_new_events_and_keeps_the_old(tmp_path: Path) -> None:
    """Past spool_max_bytes an append raises spool_full; everything spooled before is still there."""
    spool = Spool(tmp_path / "spool.db", TINY_SPOOL_BYTES)
    kept = 0
    with pytest.raises(SpoolError) as caught:
        for i in range(10_000):
            spool.append(f"e{i}", line(f"e{i}", pad=2000))
            kept += 1
    assert caught.value.reason == "spool_full" and kept > 0
    assert [json.loads(body)["id"] for _, body in spool.oldest(10_000)] == [f"e{i}" for i in range(kept)]
    spool.close()


def test_a_spool_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    """A spool path that is a folder (or on a broken volume) raises spool_unavailable, naming the file."""
    (tmp_path / "spool.db").mkdir()
    with pytest.raises(SpoolError) as caught:
        Spool(tmp_path / "spool.db", TINY_SPOOL_BYTES).append("e1", line("e1"))
    assert caught.value.reason == "spool_unavailable" and "spool.db" in str(caught.value)


def test_events_the_sidecar_refuses_are_counted_and_forgotten(tmp_path: Path, registry: CollectorRegistry) -> None:
    """A 422 for some spooled events counts each as sidecar_rejected; the accepted ones are forgotten too."""
    spool = Spool(tmp_path / "spool.db", TINY_SPOOL_BYTES)
    for i in range(3):
        spool.append(f"e{i}", line(f"e{i}"))
    transport = ScriptedTransport(ACCEPTED.__class__("accepted", rejected=(1,), status=422))
    assert Forwarder(spool, transport, DropCounter(registry)).forward_once() is True
    assert spool.count() == 0 and dropped(registry, "sidecar_rejected") == 1


def _worker(path: str, prefix: str, ready: object, go: object, out: object) -> None:
    """One gunicorn-like worker: append its events, then forward the shared spool into its own record."""
    spool = Spool(Path(path), 64 * 1024 * 1024)
    for i in range(EVENTS_PER_WORKER):
        spool.append(f"{prefix}{i}", line(f"{prefix}{i}"))
    transport = ScriptedTransport()
    ready.release()  # type: ignore[attr-defined]
    go.wait(20)  # type: ignore[attr-defined]
    forwarder = Forwarder(spool, transport, DropCounter(registry=CollectorRegistry()))
    while forwarder.forward_once():
        pass
    out.put([e["id"] for e in transport.events()])  # type: ignore[attr-defined]


def test_two_workers_sharing_a_spool_forward_each_event_once(tmp_path: Path) -> None:
    """Two processes append to one spool and both try to forward: every event is posted exactly once."""
    context = multiprocessing.get_context("fork")
    ready, go, out = context.Semaphore(0), context.Event(), context.Queue()
    workers = [context.Process(target=_worker, args=(str(tmp_path / "spool.db"), p, ready, go, out)) for p in ("a", "b")]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert ready.acquire(timeout=20)
    go.set()
    posted = out.get(timeout=20) + out.get(timeout=20)
    for worker in workers:
        worker.join(20)
        assert worker.exitcode == 0
    expected = {f"{p}{i}" for p in ("a", "b") for i in range(EVENTS_PER_WORKER)}
    assert sorted(posted) == sorted(expected)  # no event twice, none missing (one worker forwarded everything)


def test_a_forked_child_does_not_inherit_the_forward_lock(tmp_path: Path) -> None:
    """The forwarding parent keeps its lock across a fork; the child cannot take it while the parent lives."""
    spool = Spool(tmp_path / "spool.db", TINY_SPOOL_BYTES)
    assert spool.take_forward_lock()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh handle must not get the lock the parent holds
        os.close(read)
        os.write(write, b"1" if spool.take_forward_lock() else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"0"
    assert spool.take_forward_lock()  # the parent still holds it
    spool.close()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a real 1 MiB tmpfs (mounting needs root on Linux; skipped elsewhere, with the reason)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, text=True,
                             check=False) if shutil.which("mount") else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip(f"no 1 MiB tmpfs for a real full disk: {mounted.stderr.strip() if mounted else 'no mount command'}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_spool_on_a_really_full_disk(full_disk: Path, registry: CollectorRegistry) -> None:
    """On a real disk that fills up, appends fail as spool_full (counted), never raise, and what was spooled stays readable."""
    from contrib_support import dropped

    from shippers.contrib.facts import RequestFacts
    from shippers.contrib.helpers import AuthEvents
    from shippers.contrib.integration import Integration, Plumbing
    from shippers.contrib.transport import Outcome

    integration = Integration.from_settings(
        None, {"mode": "sidecar", "spool_path": str(full_disk / "spool.db")}, base_dir=full_disk, registry=registry,
        plumbing=Plumbing(transport=lambda _: ScriptedTransport(Outcome("unavailable")), start_forwarder=False))
    events = AuthEvents(integration, RequestFacts())
    results = [events.login_completed(user_id=i, details={"pad": "x" * 15_000}) for i in range(200)]
    kept = results.count(True)
    assert 0 < kept < 200
    assert dropped(registry, "spool_full") + dropped(registry, "spool_unavailable") == 200 - kept
    assert integration.runtime.spool.count() == kept  # type: ignore[union-attr]
    integration.close(5)
