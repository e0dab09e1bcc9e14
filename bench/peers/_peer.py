"""One timed run of one peer against its counting ``_bulk`` endpoints, measured the same way for all three.

Every run::

    fresh work folder; the peer started and ready (rsyslog/syslog-ng: their pid file is written;
    authlog: /readyz answers) -> clock and the peer's CPU read -> the load starts (the events file
    is renamed into the folder the peer watches; authlog: the producer starts posting) -> each
    endpoint in turn is asked every POLL_SECONDS until it holds every _id (one deadline for all)
    -> clock, CPU and the summed VmHWM of the peer's processes read -> every endpoint counted
    again (a copy doubled after its endpoint was done is caught) -> the peer is stopped

so start-up is not timed, and neither the producer (this process) nor the endpoints are measured
as the peer (the endpoints' CPU during the run is recorded on its own: the cores they take; and
what the rest of the shared machine took, ``_machine``: why one run's events/s differs from the next).
With one endpoint that is the side-by-side of issue 11; with several (a fan-out) the peer sends
every event to each, and the clock stops when the last one holds them all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import _configs
import _machine
from _install import SyslogNg
from _measure import ProcessTree
from _sidecar import Sidecar, post_all, stop
from endpoints.process import Endpoint
from endpoints.tally import Counted

# Why: how often the endpoint is asked; a count is one pipe round trip in another process.
POLL_SECONDS = 0.02
# Why: rsyslog and syslog-ng write their pid file before their inputs are running; a moment more.
SETTLE_SECONDS = 0.5
# Why: a peer that has not started within this is broken, not slow.
START_TIMEOUT_SECONDS = 60.0
# Why: a clean stop flushes queues; longer means the peer hangs.
STOP_TIMEOUT_SECONDS = 30.0
EVENTS_FILE = "events.ndjson"


@dataclass(frozen=True)
class Workload:
    """The same events for every peer: one file of JSON lines, and the same lines as request bodies."""

    file: Path
    events: int
    bodies: list[bytes]  # NDJSON bodies for authlog's producer
    connections: int  # the producer's keep-alive connections


@dataclass(frozen=True)
class Result:
    peer: str
    events: int
    seconds: float
    cpu: float  # user + system seconds of the peer's processes during the run
    peak_rss: int  # bytes, VmHWM summed over the peer's processes
    processes: int
    counted: tuple[Counted, ...]  # what each endpoint stored
    error: str | None = None
    far_cpu: float = 0.0  # user + system seconds of the endpoints' processes during the run
    others_cpu: float = 0.0  # busy seconds of the rest of the machine (not the peer, endpoints or harness)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu * 100_000 / self.events

    @property
    def far_cpu_per_100k(self) -> float:
        return self.far_cpu * 100_000 / self.events

    @property
    def exactly_once(self) -> bool:
        """No error, and every endpoint holds each event once."""
        return self.error is None and all(counted.exactly_once(self.events) for counted in self.counted)

    @property
    def cores(self) -> float:
        """How many of the machine's cores the peer kept busy on average (CPU seconds per wall second)."""
        return self.cpu / self.seconds if self.seconds else 0.0

    @property
    def others_cores(self) -> float:
        """How many cores other processes on the machine kept busy during the run, on average."""
        return max(0.0, self.others_cpu) / self.seconds if self.seconds else 0.0

    def bound(self, cores: int) -> float:
        """The most events/s this peer and its endpoints could reach on ``cores`` idle cores at this run's CPU per event."""
        per_event = (self.cpu + self.far_cpu) / self.events
        return cores / per_event if per_event else 0.0

    def stored(self) -> str:
        """What the endpoints stored: one line when they all hold the same (requests aside), else each one's."""
        if len(self.counted) == 1:
            return self.counted[0].line()
        if len({(c.events, c.distinct, c.refused) for c in self.counted}) == 1:
            first, requests = self.counted[0], "/".join(str(c.requests) for c in self.counted)
            return (f"each of {len(self.counted)} endpoints: {first.events} events, {first.distinct} distinct ids, "
                    f"{first.refused} refused as already there; requests {requests}")  # fmt: skip
        return "; ".join(f"endpoint {n}: {counted.line()}" for n, counted in enumerate(self.counted, 1))


def _cpu_seconds(endpoints: Sequence[Endpoint]) -> float:
    return sum(ProcessTree(endpoint.pid).cpu_seconds() for endpoint in endpoints)


def measured(name: str, tree: ProcessTree, endpoints: Sequence[Endpoint], events: int, start_load: Callable[[], None],
             timeout: float) -> Result:  # fmt: skip
    """Start the load, wait until every endpoint holds every event, and measure the peer's processes."""
    with tree.sampling():
        machine, harness = _machine.busy_seconds(), _machine.harness_seconds()
        cpu, far_cpu, started = tree.cpu_seconds(), _cpu_seconds(endpoints), time.perf_counter()
        start_load()
        deadline = time.monotonic() + timeout
        for endpoint in endpoints:
            endpoint.wait_for(events, max(0.0, deadline - time.monotonic()), poll=POLL_SECONDS)
        seconds, cpu = time.perf_counter() - started, tree.cpu_seconds() - cpu
        far_cpu = _cpu_seconds(endpoints) - far_cpu
        harness, machine = _machine.harness_seconds() - harness, _machine.busy_seconds() - machine
        peak = tree.peak_rss_bytes()
    counted = tuple(endpoint.count() for endpoint in endpoints)
    short = [(n, c.distinct) for n, c in enumerate(counted, 1) if c.distinct < events]
    error = ("; ".join(f"endpoint {n}: only {distinct} of {events} _ids" for n, distinct in short)
             + f" after {timeout:.0f} s") if short else None  # fmt: skip
    return Result(name, events, seconds, cpu, peak, tree.processes, counted, error, far_cpu, machine - cpu - far_cpu - harness)


def _moved_in(source: Path, folder: Path) -> Callable[[], None]:
    """The load of a file-reading peer: the events file appears, whole, in the folder it watches."""

    def move() -> None:
        staged = folder.parent / f".{EVENTS_FILE}"
        shutil.copyfile(source, staged)  # outside the watched folder: the peer sees only the rename
        os.replace(staged, folder / EVENTS_FILE)

    return move


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {log.read_text()[-500:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no pid file after {START_TIMEOUT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)
    time.sleep(SETTLE_SECONDS)


def _daemon_run(name: str, command: list[str], env: dict[str, str] | None, folder: Path, watched: Path,
                pid_file: Path, endpoints: Sequence[Endpoint], work: Workload, timeout: float) -> Result:  # fmt: skip
    """A file-reading peer in the foreground: start, wait for its pid file, measure, stop."""
    log = folder / "peer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for_file(pid_file, proc, log)
        return measured(name, ProcessTree(proc.pid), endpoints, work.events, _moved_in(work.file, watched), timeout)
    finally:
        stop(proc, STOP_TIMEOUT_SECONDS)


def run_rsyslog(binary: str, folder: Path, endpoints: Sequence[Endpoint], work: Workload, timeout: float) -> Result:
    watched, state = folder / "in", folder / "state"
    watched.mkdir()
    state.mkdir()
    config = folder / "rsyslog.conf"
    config.write_text(_configs.rsyslog_conf(state, watched / EVENTS_FILE, _ports(endpoints)))
    pid_file = folder / "rsyslogd.pid"
    command = [binary, "-n", "-f", str(config), "-i", str(pid_file)]
    return _daemon_run("rsyslog", command, None, folder, watched, pid_file, endpoints, work, timeout)


def run_syslog_ng(peer: SyslogNg, folder: Path, endpoints: Sequence[Endpoint], work: Workload, timeout: float) -> Result:
    watched = folder / "in"
    watched.mkdir()
    config = folder / "syslog-ng.conf"
    config.write_text(_configs.syslog_ng_conf(watched, _ports(endpoints)))
    pid_file = folder / "syslog-ng.pid"
    command = [str(peer.binary), "-F", "-f", str(config), f"--module-path={peer.module_path}",
               "-R", str(folder / "syslog-ng.persist"), "-c", str(folder / "syslog-ng.ctl"), "-p", str(pid_file)]  # fmt: skip
    return _daemon_run("syslog-ng", command, peer.env, folder, watched, pid_file, endpoints, work, timeout)


def run_authlog(folder: Path, endpoints: Sequence[Endpoint], work: Workload, timeout: float) -> Result:
    posted: list[tuple[int, int, list[str]]] = []
    with Sidecar(folder, _configs.authlog_sinks([endpoint.url for endpoint in endpoints])) as sidecar:
        producer = threading.Thread(target=lambda: posted.append(post_all(sidecar.port, work.bodies, work.connections)))
        result = measured("authlog", sidecar.tree, endpoints, work.events, producer.start, timeout)
        producer.join()
    accepted, _, errors = posted[0] if posted else (0, 0, ["the producer did not finish"])
    if errors or accepted != work.events:
        problem = f"{accepted} of {work.events} accepted" + (f"; first refusal: {errors[0]}" if errors else "")
        return replace(result, error=result.error or problem)
    return result


def _ports(endpoints: Sequence[Endpoint]) -> list[int]:
    return [int(endpoint.url.rsplit(":", 1)[1]) for endpoint in endpoints]
