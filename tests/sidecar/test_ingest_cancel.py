"""A request cancelled while the ingest process works on it (the drain's deadline cancels handlers) leaves nothing behind.

ProcessIngest runs over a scripted stand-in for IngestProcess whose calls block on gates the test
opens, so the cancellation lands exactly while a call is in flight on its thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shippers.metrics import Metrics
from shippers.sidecar.body import BodyLimits
from shippers.sidecar.ingest_process import ProcessIngest
from shippers.testing.waiting import wait_for

LIMITS = BodyLimits(1 << 20, 100)
COUNTS = {("login.completed", "success"): 1}
# Why: a gate is opened by the test itself; this only bounds a broken test.
GATE_SECONDS = 10.0


@dataclass
class GatedProcess:
    """IngestProcess's operations; ``gated`` names the one that waits for ``gate`` (its start is ``entered``)."""

    gated: str
    gate: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    dropped: list[int] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)

    def _wait(self, op: str) -> None:
        if op == self.gated:
            self.entered.set()
            assert self.gate.wait(GATE_SECONDS)

    def split(self, body: bytes, content_type: str | None, content_encoding: str | None, limits: BodyLimits) -> tuple[int, int]:
        self._wait("split")
        return 7, 1

    def validate(self, request_id: int, start: int, count: int) -> tuple[Counter[str], Counter[str]]:
        self._wait("validate")
        return Counter(), Counter()

    def commit(self, request_id: int) -> tuple[int, list[tuple[int, str]], dict[tuple[str, str], int], int]:
        self._wait("commit")
        self.committed.append(request_id)
        return 1, [], COUNTS, 0

    def drop(self, request_id: int) -> None:
        self.dropped.append(request_id)


@dataclass
class CountingShipper:
    metrics: Metrics = field(default_factory=Metrics)
    noted: list[Any] = field(default_factory=list)

    def note_committed(self, counts: Any) -> None:
        self.noted.append(counts)


def _cancel_while(gated: str, until: Callable[[GatedProcess], object] = lambda _: True) -> tuple[GatedProcess, CountingShipper]:
    """Run one request, cancel it once the ``gated`` call is in flight, let that call finish; wait for ``until``, then the threads."""
    process, shipper = GatedProcess(gated), CountingShipper()
    validators = ThreadPoolExecutor(1)
    writer = ThreadPoolExecutor(1)
    engine = ProcessIngest(shipper, LIMITS, process, validators, writer)  # type: ignore[arg-type]

    async def scenario() -> None:
        task = asyncio.create_task(engine.run([b"{}"], "application/json", None))
        await asyncio.get_running_loop().run_in_executor(None, process.entered.wait, GATE_SECONDS)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        process.gate.set()

    asyncio.run(scenario())
    wait_for(lambda: until(process), "what the cancelled request leaves to do")
    validators.shutdown(wait=True)
    writer.shutdown(wait=True)
    return process, shipper


def test_a_request_cancelled_during_its_split_is_dropped_in_the_ingest_process() -> None:
    """Cancelled while its body is being split, the request is dropped once the split returns (the ingest process held its items forever)."""
    process, _ = _cancel_while("split", until=lambda p: p.dropped)
    assert process.dropped == [7]


def test_a_request_cancelled_during_its_commit_is_still_counted_and_wakes_delivery() -> None:
    """Cancelled while its commit runs, the events it stored are counted and the workers woken, as the in-process writer does."""
    process, shipper = _cancel_while("commit")
    assert process.committed == [7]
    assert shipper.noted == [COUNTS]
    assert process.dropped == []


def test_a_request_cancelled_during_validation_is_dropped_and_never_committed() -> None:
    """Cancelled between turns, the request is dropped and nothing of it is committed."""
    process, shipper = _cancel_while("validate")
    assert process.dropped == [7] and process.committed == [] and shipper.noted == []
