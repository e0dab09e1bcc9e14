"""``authlog run`` as a child process on loopback, for the benchmarks that go through the sidecar.

    with Sidecar(folder, '[sinks.es]\\ntype = "elasticsearch"\\n...') as sidecar:
        sidecar.port, sidecar.tree          # ProcessTree of the sidecar (CPU, summed peak RSS)
        sidecar.caught_up("es", timeout)    # until /v1/status says the sink's lag is 0

The config is ``[server] listen`` on a free loopback port, ``[buffer] path`` in ``folder`` (and
``fsync`` only when given: the default is what users get), then the caller's sink tables. The
child runs this checkout (``PYTHONPATH``), with the test adapters opted in (the memory sink is a
test double). Linux only (``/proc``, through ``_measure.ProcessTree``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import msgspec
from _measure import ProcessTree
from _repo import REPO

from shippers.samples import sample_events
from shippers.testing.ports import free_port

# Why: the sidecar imports every adapter plugin (boto3, SDKs) at start; 60 s covers a slow box.
READY_TIMEOUT_SECONDS = 60.0
# Why: a status poll is one small loopback request; 20 ms keeps the end-to-end timing tight.
POLL_SECONDS = 0.02
# Why: a draining sidecar finishes its in-flight batches within its own close deadline (10 s).
STOP_TIMEOUT_SECONDS = 60.0

# The child is `authlog run`, opted in to the test adapters (the memory sink is a test double).
CHILD = "from shippers.testing import register_test_adapters; register_test_adapters(); from shippers.cli import main; main()"


def make_bodies(events: int, batch: int, seed: int) -> list[bytes]:
    """``events`` sample events as NDJSON request bodies of ``batch`` events (pre-encoded: the producer spends little)."""
    encode = msgspec.json.Encoder().encode
    return ndjson_bodies([encode(e) for e in sample_events(events, seed)], batch)


def ndjson_bodies(lines: list[bytes], batch: int) -> list[bytes]:
    """JSON lines as NDJSON bodies of ``batch`` lines each."""
    return [b"\n".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]


def post_all(port: int, bodies: list[bytes], connections: int) -> tuple[int, int, list[str]]:
    """Post every body to /v1/events over ``connections`` keep-alive connections; (accepted, requests, errors)."""
    lock = threading.Lock()
    next_body = iter(range(len(bodies)))
    totals = {"accepted": 0, "requests": 0}
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/x-ndjson"}
        while True:
            with lock:
                index = next(next_body, None)
            if index is None:
                break
            conn.request("POST", "/v1/events", body=bodies[index], headers=headers)
            response = conn.getresponse()
            payload = response.read()
            with lock:
                totals["requests"] += 1
                if response.status == 202:
                    totals["accepted"] += json.loads(payload)["accepted"]
                else:
                    errors.append(f"{response.status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return totals["accepted"], totals["requests"], errors


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM (a clean drain), then SIGKILL if the process is still there after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_run(folder: Path, config: Path, port: int, log_path: Path, what: str = "authlog run") -> subprocess.Popen[bytes]:
    """``authlog run -c config`` in ``folder`` (output to ``log_path``), once its ``/readyz`` on ``port`` says 200.

    Exits the benchmark (naming ``what``) when the child exits first or is not ready within READY_TIMEOUT_SECONDS.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, "run", "-c", str(config), "--log-level", "warning"],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}: {log_path.read_text()}")
        if request(port, "GET", "/readyz")[0] == 200:
            return proc
        time.sleep(POLL_SECONDS)
    stop(proc)
    raise SystemExit(f"{what} did not become ready")


def request(port: int, method: str, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One request on a fresh connection; (0, b"") when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


class Sidecar:
    """A running ``authlog run`` with the given sinks; stopped with SIGTERM (a clean drain)."""

    def __init__(self, folder: Path, sinks_toml: str, *, fsync: str | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        fsync_line = f'fsync = "{fsync}"\n' if fsync else ""
        self.config = folder / "authlog.toml"
        self.config.write_text(
            f'[server]\nlisten = "127.0.0.1:{self.port}"\n\n[buffer]\npath = "./buf"\n{fsync_line}\n{sinks_toml}'
        )
        self.log = folder / "sidecar.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.proc = start_run(self.folder, self.config, self.port, self.log)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def tree(self) -> ProcessTree:
        """The sidecar and whatever it spawns (the producer, this process, is its parent: not in it)."""
        return ProcessTree(self.pid)

    def status(self) -> dict[str, Any] | None:
        status, body = request(self.port, "GET", "/v1/status")
        return json.loads(body) if status == 200 else None

    def caught_up(self, sink: str, timeout: float) -> bool:
        """Wait until ``sink``'s lag is 0; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status is not None and status["sinks"][sink]["lagEvents"] == 0:
                return True
            time.sleep(POLL_SECONDS)
        return False

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
