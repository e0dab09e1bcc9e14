"""What the integration tests share: the AUTHLOG of a file sink, reading what it wrote, and a scripted sidecar transport."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

import shippers
from shippers.contrib.transport import Outcome

EXTRA_CATALOG = Path(__file__).parent / "data" / "extra_catalog.toml"
# Why: a failed login's password in every test that looks for it anywhere; unique enough to never occur by chance.
PASSWORD = "hunter2-Sentinel-6f1c9e"


def file_authlog(folder: Path) -> dict[str, Any]:
    """AUTHLOG (embedded mode) writing to a file sink in ``folder``, with the test catalog extension."""
    return {
        "buffer": {"path": str(folder / "buffer")},
        "catalog": {"extra": str(EXTRA_CATALOG)},
        "sinks": {"archive": {"type": "file", "path": str(folder / "out" / "events.ndjson"), "batch": {"timeout": "10ms"}}},
    }


def shipped_events(folder: Path) -> list[dict[str, Any]]:
    """Flush the configured shipper and read every event its file sink in ``folder`` wrote."""
    assert shippers.get_shipper().flush(20), "the file sink did not catch up"
    out = folder / "out" / "events.ndjson"
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text("utf-8").splitlines() if line]


def every_byte_under(folder: Path) -> bytes:
    """Every file's bytes under ``folder`` (store, WAL, DLQ, spool, sink output), for "appears nowhere" checks."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


ACCEPTED = Outcome("accepted", status=202)


class ScriptedTransport:
    """A sidecar transport whose answers the test decides; ``hold()`` makes sends wait until ``release()``."""

    def __init__(self, answer: Outcome | None = None) -> None:
        self.answer = answer or ACCEPTED
        self.sent: list[bytes] = []
        self.started = threading.Semaphore(0)
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        self.closed = False

    def hold(self) -> None:
        self._gate.clear()

    def release(self, answer: Outcome | None = None) -> None:
        if answer is not None:
            self.answer = answer
        self._gate.set()

    def send(self, lines: Sequence[bytes]) -> Outcome:
        self.started.release()
        # Why 20 s: only a broken test waits this long; a held send is always released by its test.
        self._gate.wait(20)
        with self._lock:
            if self.answer.kind == "accepted":
                self.sent.extend(lines)
        return self.answer

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(line) for line in self.sent]

    def close(self) -> None:
        self.closed = True


class RecordingWait:
    """The request's wait for the sidecar: records each timeout asked for; ``real`` waits for real, else returns at once."""

    def __init__(self, real: bool = False) -> None:
        self.real = real
        self.timeouts: list[float] = []

    def __call__(self, event: threading.Event, seconds: float) -> bool:
        self.timeouts.append(seconds)
        return event.wait(seconds) if self.real else event.is_set()


def dropped(registry: CollectorRegistry, reason: str) -> float:
    """authlog_app_dropped_total{reason} in ``registry``."""
    value = registry.get_sample_value("authlog_app_dropped_total", {"reason": reason})
    return 0.0 if value is None else value


class FakeClock:
    """A monotonic clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
