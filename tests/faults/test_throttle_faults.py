"""Faults: a throttled destination at concurrency > 1. A 429/503 with Retry-After on one batch pauses the
whole sink: no pool thread sends again before that deadline, whatever its own batch was told."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shippers.shipper import Shipper
from shippers.testing.fake_elasticsearch import FakeElasticsearch, is_bulk
from shippers.testing.fault_front import HOLD, FaultFront, status
from shippers.testing.waiting import wait_for

INDEX = "authlog-throttle"
# Why: four batches in flight at once, one per pool thread.
IN_FLIGHT = 4
EVENTS_PER_BATCH = 5
# Why: long enough that a thread ignoring it resends well inside it (its own backoff is 10-50 ms),
# short enough for a test that really waits it out.
RETRY_AFTER_SECONDS = 2
# Why: bounded waits (real time) for worker threads to get somewhere; 20 s means they never will.
POLL_DEADLINE_SECONDS = 20.0




def wire(n: int) -> list[bytes]:
    return [json.dumps({"id": f"throttle-{i:03d}", "type": "login.completed"}).encode() for i in range(n)]


def test_a_retry_after_on_one_batch_pauses_every_thread_of_the_sink(make_shipper: Callable[..., Shipper]) -> None:
    """Four batches in flight; one gets 429 + Retry-After: 2, the other three then get a bare 503: no request of any thread reaches the destination before the 429's deadline."""
    events = IN_FLIGHT * EVENTS_PER_BATCH
    sink: dict[str, Any] = {"search": {
        "type": "elasticsearch", "hosts": [], "index": INDEX, "concurrency": IN_FLIGHT,
        "batch": {"max_events": EVENTS_PER_BATCH, "timeout": "0s"}, "retry": {"initial": "10ms", "max": "50ms"},
    }}
    with FakeElasticsearch() as es, FaultFront(es.url, is_bulk) as front:
        sink["search"]["hosts"] = [front.url]
        es.fail_next(IN_FLIGHT - 1, 503)  # what the three held requests are answered once released
        front.queue(*[HOLD] * (IN_FLIGHT - 1), status(429, RETRY_AFTER_SECONDS))
        shipper = make_shipper(sink, start=False)
        assert shipper.ingest_raw(wire(events)).accepted == events
        shipper.start()
        worker = shipper.workers["search"]
        wait_for(lambda: len([s for s in front.seen if is_bulk(s.method, s.path)]) == IN_FLIGHT, "four requests in flight")
        wait_for(lambda: "429" in (worker.status.last_error or ""), "the worker took the 429 in")
        front.release()  # the three other threads now fail without a Retry-After of their own
        assert shipper.flush(POLL_DEADLINE_SECONDS), shipper.status()["sinks"]
        assert len(es.documents(INDEX)) == events
    bulks = sorted((s for s in front.seen if is_bulk(s.method, s.path)), key=lambda s: s.at)
    [throttled] = [s for s in bulks if s.fault.kind == "status"]
    later = [s for s in bulks if s.at > throttled.at and s.fault.kind != "hold"]
    assert len(later) == IN_FLIGHT, [s.fault.kind for s in bulks]  # each batch sent once more
    early = [round(s.at - throttled.at, 3) for s in later if s.at < throttled.at + RETRY_AFTER_SECONDS]
    assert not early, f"requests {early} s after a Retry-After: {RETRY_AFTER_SECONDS}"
