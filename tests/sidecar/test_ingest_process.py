"""The ingest process (``[server] ingest = "process"``): same answers as the threads, and no request lost to its death.

Every test drives the real app with a real IngestProcess (a child interpreter over a socket
pair) and a real store; the answers must be exactly those of the in-process threads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sidecar_fakes import ServedApp, make_config

from shippers.config import BufferConfig, FilePath, config_from_dict
from shippers.shipper import Shipper
from shippers.sidecar.body import BodyLimits
from shippers.sidecar.ingest_child import IngestChild, IngestSettings
from shippers.sidecar.ingest_process import RESPAWN_SECONDS, IngestProcess
from shippers.testing.waiting import wait_for

GOOD = b'{"type": "login.completed", "userId": "u-1"}'
TYPO = b'{"type": "login.complete", "userId": "u-2"}'


class _Monotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def shipper(tmp_path: Path) -> Iterator[Shipper]:
    built = Shipper.from_config(make_config(tmp_path, max_body_bytes=64 * 1024, max_events_per_request=100))
    yield built
    built.close(1.0)


@pytest.fixture
def clock() -> _Monotonic:
    return _Monotonic()


@pytest.fixture
def process(shipper: Shipper, clock: _Monotonic) -> Iterator[IngestProcess]:
    ingest = IngestProcess.for_config(shipper.config)
    ingest.monotonic = clock
    yield ingest
    ingest.close()


@pytest.fixture
def served(shipper: Shipper, process: IngestProcess) -> Iterator[ServedApp]:
    with ServedApp(shipper, [], process) as server:  # type: ignore[arg-type]
        yield server


def _received(shipper: Shipper) -> float:
    return shipper.metrics.registry.get_sample_value(
        "authlog_events_received_total", {"type": "login.completed", "outcome": "success"}
    ) or 0.0


def test_events_are_committed_by_the_ingest_process_and_counted_here(served: ServedApp, shipper: Shipper, process: IngestProcess) -> None:
    """A mixed NDJSON body is answered 202 with the right rejected index, stored once, and counted in this process's metrics."""
    status, body, _ = served.post(b"\n".join([GOOD, TYPO, GOOD]), "application/x-ndjson")
    assert status == 202, body
    assert body["accepted"] == 2 and [r["index"] for r in body["rejected"]] == [1]
    assert process.pid is not None and process.pid != os.getpid()
    assert shipper.buffer.stats()["events"] == 2
    assert _received(shipper) == 2
    assert shipper.metrics.registry.get_sample_value("authlog_events_rejected_total", {"reason": "unknown_type"}) == 1


def test_a_bad_body_gets_the_same_answer_as_in_process(served: ServedApp, shipper: Shipper) -> None:
    """A broken gzip body is the body splitter's 400 and too many events its 413, answered from the ingest process."""
    status, body, _ = served.post(b"\x1f\x8bnot gzip", "application/json", Content_Encoding="gzip")
    assert status == 400 and "gzip" in body["error"]
    status, body, _ = served.post(b"\n".join([GOOD] * 101), "application/x-ndjson")
    assert status == 413, body
    assert shipper.buffer.stats()["events"] == 0


def test_a_killed_ingest_process_costs_one_503_and_is_started_again(
    served: ServedApp, shipper: Shipper, process: IngestProcess, clock: _Monotonic
) -> None:
    """After kill -9 of the ingest process: 503 + Retry-After and /readyz says why; past RESPAWN_SECONDS it runs again and stores."""
    assert served.post(GOOD)[0] == 202
    old = process.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: process.pid is None, "the killed ingest process is gone")
    status, body, headers = served.post(GOOD)
    assert status == 503 and int(headers["Retry-After"]) >= 1
    assert "ingest process" in body["error"] and "retry" in body["error"]
    ready_status, _, ready_body = served.request("GET", "/readyz")
    assert ready_status == 503 and b"ingest process" in ready_body
    clock.now += RESPAWN_SECONDS
    status, body, _ = served.post(GOOD)
    assert status == 202, body
    assert process.pid not in (None, old)
    assert shipper.buffer.stats()["events"] == 2
    assert served.request("GET", "/readyz")[0] == 200


def test_a_full_sink_is_a_503_counted_here(tmp_path: Path) -> None:
    """A block sink at its max_backlog refuses the ingest process's commit: 503 + Retry-After, refused events counted here."""
    config = config_from_dict(
        {"buffer": {"path": str(tmp_path / "buf")},
         "sinks": {"local": {"type": "file", "path": str(tmp_path / "out.ndjson"), "max_backlog": "1KiB"}}},
        base_dir=tmp_path,
    )
    shipper = Shipper.from_config(config)
    shipper.buffer.register_sinks(shipper._policies())  # registered, as a deliverer would, but nothing delivers
    process = IngestProcess.for_config(config)
    try:
        with ServedApp(shipper, [], process) as served:  # type: ignore[arg-type]
            statuses = [served.post(b"\n".join([GOOD] * 10), "application/x-ndjson")[0] for _ in range(10)]
            assert 503 in statuses
            status, body, headers = served.post(b"\n".join([GOOD] * 10), "application/x-ndjson")
            assert status == 503 and "Retry-After" in headers and "local" in body["error"]
        refused = shipper.metrics.registry.get_sample_value("authlog_events_refused_total", {"reason": "sink_full"})
        assert refused is not None and refused >= 10
    finally:
        process.close()
        shipper.close(1.0)


def test_the_child_gives_what_ingest_raw_gives(tmp_path: Path) -> None:
    """Split, validated in turns of 2 and committed, the ingest process's result equals Shipper.ingest_raw's on the same items."""
    items = [GOOD, TYPO, b"{", GOOD, b'{"type": "login.completed"}']
    settings = IngestSettings(BufferConfig(path=FilePath(str(tmp_path / "a"))), None)
    child = IngestChild(settings)
    assert child.handle(("split", 1, b"\n".join(items), "application/x-ndjson", None, BodyLimits(1 << 20, 100))) == ("ok", 5)
    for start in range(0, 5, 2):
        assert child.handle(("validate", 1, start, 2))[0] == "ok"
    _, accepted, rejected, counts, duplicates = child.handle(("commit", 1))
    assert duplicates == 0  # the embedded store keeps every copy
    assert child.requests == {}
    reference = Shipper.from_config(make_config(tmp_path / "b"))
    try:
        expected = reference.ingest_raw(items)
    finally:
        reference.close(1.0)
    assert (accepted, rejected) == (expected.accepted, expected.rejected)
    assert counts == {("login.completed", "success"): accepted}


def test_a_dropped_request_is_forgotten(tmp_path: Path) -> None:
    """A request abandoned after its split (the producer hung up) leaves nothing behind in the ingest process."""
    child = IngestChild(IngestSettings(BufferConfig(path=FilePath(str(tmp_path / "a"))), None))
    child.handle(("split", 7, GOOD, "application/json", None, BodyLimits(1 << 20, 100)))
    assert 7 in child.requests
    child.requests.pop(7, None)  # what main() does for ("drop", 7)
    assert child.requests == {} and child.buffer.stats()["events"] == 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_the_ingest_process_dies_with_its_sidecar(tmp_path: Path) -> None:
    """kill -9 of `authlog run` takes its ingest process with it: nothing outlives the process that acknowledges commits."""
    (tmp_path / "authlog.toml").write_text(
        '[server]\nlisten = "127.0.0.1:0"\n[buffer]\npath = "./buf"\n[sinks.local]\ntype = "file"\npath = "./out.ndjson"\n'
    )
    sidecar = subprocess.Popen(
        [sys.executable, "-c", "from shippers.cli import main; main()", "run", "-c", str(tmp_path / "authlog.toml")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        children: list[int] = []

        def started() -> bool:
            children[:] = [c for c in _children(sidecar.pid) if b"ingest_child" in Path(f"/proc/{c}/cmdline").read_bytes()]
            return bool(children)

        wait_for(started, "the sidecar's ingest process started")
        sidecar.kill()
        sidecar.wait()
        wait_for(lambda: not Path(f"/proc/{children[0]}").exists() or b"Z" in Path(f"/proc/{children[0]}/stat").read_bytes().split(b")")[-1][:3],
                 "the ingest process ended with its sidecar")
    finally:
        if sidecar.poll() is None:
            sidecar.kill()
            sidecar.wait()


def test_a_request_split_before_a_restart_is_told_to_retry(process: IngestProcess, clock: _Monotonic) -> None:
    """A request split in an ingest process that died and was started again meanwhile gets IngestUnavailable (503, retry), not the new process's KeyError (500)."""
    from shippers.sidecar.ingest_process import IngestUnavailable

    limits = BodyLimits(1 << 20, 100)
    request_id, count = process.split(GOOD, "application/json", None, limits)
    assert count == 1
    old = process.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: process.pid is None, "the killed ingest process is gone")
    with pytest.raises(IngestUnavailable):  # another request notices the death...
        process.split(GOOD, "application/json", None, limits)
    clock.now += RESPAWN_SECONDS
    process.split(GOOD, "application/json", None, limits)  # ...and, past RESPAWN_SECONDS, one starts the new process
    assert process.pid not in (None, old)
    with pytest.raises(IngestUnavailable, match="retry"):
        process.validate(request_id, 0, 1000)
    with pytest.raises(IngestUnavailable, match="retry"):
        process.commit(request_id)


def test_the_ingest_process_outlives_a_sigterm_sent_to_the_whole_group(process: IngestProcess) -> None:
    """SIGTERM to every process of the sidecar (systemd's KillMode=control-group, `kill -TERM -PGID`) leaves the ingest process
    running, so a request split before it still commits and gets its 202 while the sidecar drains; it ends when its parent closes it."""
    limits = BodyLimits(1 << 20, 100)
    request_id, _ = process.split(GOOD, "application/json", None, limits)
    pid = process.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    process.validate(request_id, 0, 1000)
    accepted, rejected, _, _ = process.commit(request_id)
    assert (accepted, rejected) == (1, [])
    assert process.pid == pid
    process.close()
    assert process.pid is None


def test_readyz_restarts_a_dead_ingest_process_without_traffic(
    served: ServedApp, process: IngestProcess, clock: _Monotonic
) -> None:
    """With no ingest request at all, /readyz notices a killed ingest process, says why, and (past RESPAWN_SECONDS) starts it again."""
    assert served.request("GET", "/readyz")[0] == 200  # starts it: the probe is what keeps it running
    old = process.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: process._proc is not None and process._proc.poll() is not None, "the killed ingest process is gone")
    status, _, body = served.request("GET", "/readyz")
    assert status == 503 and b"ingest process" in body  # found dead by the probe, with no request to notice it
    clock.now += RESPAWN_SECONDS
    assert served.request("GET", "/readyz")[0] == 200
    assert process.pid not in (None, old)  # the next probe started it again


def test_readyz_says_not_ready_while_the_ingest_process_cannot_start(
    served: ServedApp, process: IngestProcess, clock: _Monotonic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest process that cannot be started (a broken interpreter) makes /readyz 503 with the reason, on every probe."""
    monkeypatch.setattr("shippers.child_process.sys.executable", "/nonexistent/python")
    for _ in range(3):
        status, _, body = served.request("GET", "/readyz")
        assert status == 503 and b"ingest process" in body, body
        clock.now += RESPAWN_SECONDS  # each probe past the window tries again, and fails again


def test_an_ingest_process_refusing_the_installed_code_is_not_started_again(
    served: ServedApp, process: IngestProcess, clock: _Monotonic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest child that finds other code than its parent's is started once: /readyz 503 and status name the upgrade, on every probe."""
    starts: list[str] = []

    def other_parent() -> str:
        starts.append("start")
        return "00000000deadbeef:0.0.1"  # injected: nothing is reinstalled

    monkeypatch.setattr("shippers.child_process.parent_identity", other_parent)
    for _ in range(3):
        status, _, body = served.request("GET", "/readyz")
        assert status == 503 and b"upgraded while running" in body and b"restart `authlog run`" in body, body
        clock.now += RESPAWN_SECONDS  # past the respawn window: a crashed child would be started again here
    assert starts == ["start"]
    status, _, body = served.request("GET", "/v1/status")
    assert status == 200 and b"ingest: authlog-shipper was upgraded while running" in body
