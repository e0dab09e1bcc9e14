"""A real ``authlog run`` in a child process, for tests that need the whole sidecar (socket, store, sinks, signals).

The child runs the code of *this* tree (``PYTHONPATH`` = the repository root), listens on a
free loopback port and writes its log to a file; readiness and catch-up are found by
polling ``/readyz`` and ``/v1/status`` in bounded loops, never by sleeping a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

import msgspec

from shippers.client import NO_RETRY, Client, ClientError
from shippers.testing.ports import free_port as free_port  # re-exported: the live tests import it from here

REPO = Path(__file__).resolve().parents[2]
# Why: a cold start imports boto3 and friends through the adapter plugins; 30 s covers a slow CI box.
READY_TIMEOUT_SECONDS = 30.0
# Why: how often the bounded loops look again; short enough that tests finish promptly.
POLL_SECONDS = 0.05
# Why: a file sink delivers 10k events in well under a second; 60 s means it is stuck.
CATCH_UP_TIMEOUT_SECONDS = 60.0


def write_config(folder: Path, port: int, *, token: str | None = None, extra: str = "") -> Path:
    """An authlog.toml with one file sink named 'local' under ``folder``."""
    token_line = f'token = "{token}"\n' if token else ""
    path = folder / "authlog.toml"
    path.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\n{token_line}\n'
        '[buffer]\npath = "./var/buf"\n\n'
        '[sinks.local]\ntype = "file"\npath = "./var/out/events.ndjson"\n' + extra
    )
    return path


def output_ids(folder: Path) -> list[str]:
    """Every event id the file sink wrote, rotated files included, in file order."""
    ids: list[str] = []
    for file in sorted((folder / "var" / "out").glob("events.ndjson*")):
        ids += [msgspec.json.decode(line)["id"] for line in file.read_bytes().splitlines() if line.strip()]
    return ids


class LiveSidecar:
    """``authlog run -c CONFIG`` as a child process."""

    # The child's program (``python -c``); a subclass may start the CLI another way (a test launcher).
    program = "from shippers.cli import main; main()"
    grace = "10s"  # --grace: how long a SIGTERM may take to drain

    def __init__(self, config: Path, port: int, token: str | None = None, ca_file: Path | None = None) -> None:
        self.config = config
        self.url = f"{'https' if ca_file else 'http'}://127.0.0.1:{port}"
        self.token = token
        self.ca_file = str(ca_file) if ca_file else None
        self.log = config.parent / "sidecar.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", self.program, "run", "-c", str(self.config), "--grace", self.grace],
                cwd=self.config.parent, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        probe = self.client(retry=NO_RETRY, timeout=2)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"authlog run exited with {self.proc.returncode}:\n{self.log_text()}")
            if probe.ready():
                return self
            time.sleep(POLL_SECONDS)
        self.kill()
        raise RuntimeError(f"authlog run was not ready within {READY_TIMEOUT_SECONDS}s:\n{self.log_text()}")

    def client(self, **options: Any) -> Client:
        return Client(self.url, self.token, ca_file=self.ca_file, **options)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(READY_TIMEOUT_SECONDS)

    def terminate(self) -> int:
        """SIGTERM and wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(READY_TIMEOUT_SECONDS)

    def wait_caught_up(self, sink: str = "local", expected_delivered: int | None = None) -> dict[str, Any]:
        """Poll /v1/status until the sink's lag is 0 (and it delivered ``expected_delivered``); bounded."""
        client = self.client(retry=NO_RETRY)
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
        document: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                document = client.status()
            except ClientError:
                document = {}
            row = document.get("sinks", {}).get(sink, {})
            if row.get("lagEvents") == 0 and (expected_delivered is None or row.get("delivered", 0) >= expected_delivered):
                return document
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"sink {sink} did not catch up within {CATCH_UP_TIMEOUT_SECONDS}s: {document}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
