"""Faults at shutdown: the SIGTERM drain never sends to a destination inside the Retry-After or backoff it gave
(those batches stay recorded and go after the restart), and a shutdown that ends with a send still in flight
says what it left for the restart instead of "stopped cleanly"."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.contract import Request, Verdict
from shippers.config import config_from_dict
from shippers.shipper import Shipper
from shippers.sidecar.server import serve
from shippers.testing import chaos
from shippers.testing.chaos import ChaosAdapter
from shippers.testing.fake_elasticsearch import FakeElasticsearch, is_bulk
from shippers.testing.fault_front import FaultFront, status
from shippers.testing.waiting import wait_for

EVENTS = 20
INDEX = "authlog-drain"
# Why: far longer than any test here runs: a resend inside it can only be the drain's.
RETRY_AFTER_SECONDS = 30
# Why: bounded waits (real time) for worker threads to get somewhere; 20 s means they never will.
POLL_DEADLINE_SECONDS = 20.0
# Why: the shutdown budget of the tests; a drain that skips what it must skip ends in milliseconds.
CLOSE_TIMEOUT_SECONDS = 5.0
# Why: the sidecar's shutdown budget when a send hangs on purpose: it must run out, and quickly.
SHORT_GRACE_SECONDS = 0.5




def es_sink(front: FaultFront) -> dict[str, Any]:
    return {"search": {"type": "elasticsearch", "hosts": [front.url], "index": INDEX, "batch": {"timeout": "20ms"}}}


def wire(n: int, prefix: str = "drain") -> list[bytes]:
    return [json.dumps({"id": f"{prefix}-{i:03d}", "type": "login.completed"}).encode() for i in range(n)]


def test_the_drain_never_resends_a_batch_inside_its_retry_after(
    make_shipper: Callable[..., Shipper], caplog: pytest.LogCaptureFixture
) -> None:
    """A batch answered 429 + Retry-After: 30 is not sent again by the shutdown drain; it stays recorded, the log says so, and the next start delivers it."""
    with FakeElasticsearch() as es, FaultFront(es.url, is_bulk) as front:
        front.queue(status(429, RETRY_AFTER_SECONDS))
        shipper = make_shipper(es_sink(front))
        assert shipper.ingest_raw(wire(EVENTS)).accepted == EVENTS
        worker = shipper.workers["search"]
        wait_for(lambda: "429" in (worker.status.last_error or ""), "the worker got the 429")
        caplog.set_level(logging.INFO, "shippers")
        assert shipper.close(CLOSE_TIMEOUT_SECONDS)
        bulks = [s for s in front.seen if is_bulk(s.method, s.path)]
        assert [s.fault.kind for s in bulks] == ["status"], "the drain sent inside the Retry-After"
        said = [r.getMessage() for r in caplog.records if "left recorded for the restart" in r.getMessage()]
        assert said and "1 batch " in said[0], said
        front.clear()
        again = make_shipper(es_sink(front))
        assert again.flush(POLL_DEADLINE_SECONDS), again.status()["sinks"]
        assert len(es.documents(INDEX)) == EVENTS


def test_the_drain_never_resends_a_batch_inside_its_backoff(make_shipper: Callable[..., Shipper]) -> None:
    """A batch backing off after a failure (no Retry-After) is not sent again by the drain; the next start delivers it."""
    chaos.script("c").permanent("503 down", sticky=False)  # one failure, at the long pace: waits 30-60 s
    sink = {"c": {"type": "chaos", "retry": {"initial": "1s", "max": "60s"}, "batch": {"timeout": "0s"}}}
    shipper = make_shipper(sink)
    shipper.ingest_raw(wire(EVENTS))
    worker = shipper.workers["c"]
    wait_for(lambda: worker.status.state == "failing", "the worker backing off")
    assert shipper.close(CLOSE_TIMEOUT_SECONDS)
    assert chaos.script("c").attempts == 1, "the drain sent inside the backoff"
    again = make_shipper(sink)
    assert again.flush(POLL_DEADLINE_SECONDS)
    assert sorted(e.id for e in chaos.delivered["c"]) == sorted(f"drain-{i:03d}" for i in range(EVENTS))


def test_a_shutdown_with_a_send_in_flight_says_what_it_left_for_the_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the grace period ends with a send still in flight, the sidecar warns what stays recorded and logs "stopped (1 batch left for the restart)", not "stopped cleanly"; exit code 0."""
    entered = threading.Event()
    release = threading.Event()

    def hanging_send(self: ChaosAdapter, request: Request) -> Verdict:
        entered.set()
        release.wait(POLL_DEADLINE_SECONDS)
        return Verdict.retry("503 after the shutdown")

    monkeypatch.setattr(ChaosAdapter, "send", hanging_send)
    config = config_from_dict({
        "server": {"listen": "127.0.0.1:0"},
        "buffer": {"path": str(tmp_path / "buffer")},
        "sinks": {"c": {"type": "chaos", "batch": {"timeout": "0s"}}},
    })
    shipper = Shipper.from_config(config)
    shipper.ingest_raw(wire(EVENTS))

    def on_listening(url: str) -> None:  # once the send hangs, SIGTERM (delivered after the handlers are installed)
        loop = asyncio.get_running_loop()

        def terminate_when_in_flight() -> None:
            if entered.wait(POLL_DEADLINE_SECONDS):
                loop.call_soon_threadsafe(os.kill, os.getpid(), signal.SIGTERM)

        threading.Thread(target=terminate_when_in_flight, daemon=True).start()

    caplog.set_level(logging.INFO)
    try:
        assert serve(config, grace=SHORT_GRACE_SECONDS, shipper_factory=lambda _: shipper, on_listening=on_listening) == 0
        messages = [r.getMessage() for r in caplog.records]
        assert not any("stopped cleanly" in m for m in messages), messages
        assert any(m == "stopped (1 batch left for the restart)" for m in messages), messages
        [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "in flight" in r.getMessage()]
        assert "'c'" in warning and "1 batch" in warning and "resent" in warning, warning
        assert len(shipper.buffer.open_batches("c")) == 1
    finally:
        release.set()
        shipper.close(CLOSE_TIMEOUT_SECONDS)
