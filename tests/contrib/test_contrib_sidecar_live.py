"""Sidecar mode over real sockets: a stopped or silent sidecar costs at most the budget; a real sidecar gets every event."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from contrib_support import RecordingWait
from prometheus_client import CollectorRegistry

from shippers.contrib.facts import RequestFacts
from shippers.contrib.helpers import AuthEvents
from shippers.contrib.integration import Integration, Plumbing
from shippers.contrib.sidecar import SidecarDelivery
from shippers.shipper import Shipper
from shippers.testing.sidecar_server import SidecarServer

BUDGET = 0.05


def sidecar_mode(tmp_path: Path, registry: CollectorRegistry, url: str, wait: RecordingWait) -> Integration:
    return Integration.from_settings(
        None, {"mode": "sidecar", "sidecar_url": url, "budget": f"{BUDGET * 1000:g}ms", "spool_path": str(tmp_path / "spool.db")},
        base_dir=tmp_path, registry=registry, plumbing=Plumbing(wait=wait, start_forwarder=False))


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def real_sidecar(tmp_path: Path) -> Iterator[tuple[SidecarServer, Path]]:
    """`authlog run`'s app over a shipper with a file sink, on loopback."""
    out = tmp_path / "sidecar-out.ndjson"
    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "sidecar-buffer")},
                                   "sinks": {"archive": {"type": "file", "path": str(out), "batch": {"timeout": "10ms"}}}},
                                  deliver=True)
    server = SidecarServer(shipper).start()
    yield server, out
    server.stop()
    shipper.close(5)


def test_a_stopped_sidecar_spools_within_the_budget(tmp_path: Path, registry: CollectorRegistry, closed_port: int) -> None:
    """Connection refused: the login returns having waited at most the budget, and the event is in the spool."""
    wait = RecordingWait(real=True)
    integration = sidecar_mode(tmp_path, registry, f"http://127.0.0.1:{closed_port}", wait)
    assert AuthEvents(integration, RequestFacts()).login_completed(user_id=1)
    runtime = integration.runtime
    assert isinstance(runtime, SidecarDelivery) and runtime.spool is not None
    assert runtime.spool.count() == 1
    assert all(t <= BUDGET for t in wait.timeouts)
    integration.close(5)


def test_a_silent_sidecar_spools_within_the_budget(tmp_path: Path, registry: CollectorRegistry, silent_port: int) -> None:
    """A sidecar that takes the request and never answers: the request waits the budget (no more), then spools."""
    wait = RecordingWait(real=True)
    integration = sidecar_mode(tmp_path, registry, f"http://127.0.0.1:{silent_port}", wait)
    assert AuthEvents(integration, RequestFacts()).login_completed(user_id=1)
    assert wait.timeouts and all(t <= BUDGET for t in wait.timeouts)
    runtime = integration.runtime
    assert isinstance(runtime, SidecarDelivery) and runtime.spool is not None and runtime.spool.count() == 1
    integration.close(5)


def test_the_spool_reaches_a_real_sidecar_once_it_answers(tmp_path: Path, registry: CollectorRegistry, closed_port: int,
                                                        real_sidecar: tuple[SidecarServer, Path]) -> None:
    """Events spooled while the sidecar was down reach `authlog run` and its sink once it answers, with their ids."""
    server, out = real_sidecar
    wait = RecordingWait(real=True)
    down = sidecar_mode(tmp_path, registry, f"http://127.0.0.1:{closed_port}", wait)
    events = AuthEvents(down, RequestFacts(ip="203.0.113.9"))
    events.login_completed(user_id=1)
    events.login_failed(email="x@example.com")
    down.close(5)
    up = sidecar_mode(tmp_path, registry, server.url, wait)  # the app restarted with the sidecar's right address
    assert up.start()
    runtime = up.runtime
    assert isinstance(runtime, SidecarDelivery) and runtime.forwarder is not None
    while runtime.forwarder.forward_once():
        pass
    assert server.shipper.flush(20)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(e["type"], e.get("ip")) for e in lines] == [("login.completed", "203.0.113.9"), ("login.invalid_password", "203.0.113.9")]
    AuthEvents(up, RequestFacts()).login_completed(user_id=2)  # and live events go straight there now
    assert server.shipper.flush(20)
    assert len(out.read_text().splitlines()) == 3
    up.close(5)
