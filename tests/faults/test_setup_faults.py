"""Faults while a sink sets its destination up (Elasticsearch's index template): the setup is retried,
events wait in the buffer, and a throttled setup waits out its Retry-After like a throttled send."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shippers.shipper import Shipper
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.fault_front import CUT, DROP, LOSE, FaultFront, status

EVENTS = 50
RETRY_AFTER_SECONDS = 7
# Why: the fault-free run takes well under a second; 30 s means delivery is stuck.
FLUSH_TIMEOUT_SECONDS = 30.0


def sink(front: FaultFront) -> dict[str, Any]:
    return {"search": {"type": "elasticsearch", "hosts": [front.url], "index": "authlog-setup",
                       "retry": {"initial": "10ms", "max": "50ms"}, "batch": {"timeout": "50ms"}}}


def wire(n: int) -> list[bytes]:
    return [json.dumps({"id": f"setup-{i:03d}", "type": "login.completed"}).encode() for i in range(n)]


def test_setup_through_dropped_cut_lost_and_refused_answers_then_delivers_everything(
    make_shipper: Callable[..., Shipper], fake_sleep: Any
) -> None:
    """The template PUT meets a dropped, a cut, a lost answer and a 503; the sink keeps trying, then delivers all."""
    with FakeElasticsearch() as es, FaultFront(es.url, lambda m, p: p.startswith("/_index_template")) as front:
        front.queue(DROP, CUT, LOSE, status(503))
        shipper = make_shipper(sink(front), sleep=fake_sleep)
        assert shipper.ingest_raw(wire(EVENTS)).accepted == EVENTS
        assert shipper.flush(FLUSH_TIMEOUT_SECONDS), shipper.status()["sinks"]
        assert len(es.documents("authlog-setup")) == EVENTS
        assert [s.fault.kind for s in front.seen][:5] == ["drop", "cut", "lose", "status", "pass"]


def test_throttled_setup_waits_out_its_retry_after(make_shipper: Callable[..., Shipper], fake_sleep: Any) -> None:
    """A 429 with Retry-After: 7 on the template PUT makes the worker wait at least 7 s before it tries again."""
    with FakeElasticsearch() as es, FaultFront(es.url, lambda m, p: p.startswith("/_index_template")) as front:
        front.queue(status(429, RETRY_AFTER_SECONDS))
        shipper = make_shipper(sink(front), sleep=fake_sleep)
        assert shipper.ingest_raw(wire(EVENTS)).accepted == EVENTS
        assert shipper.flush(FLUSH_TIMEOUT_SECONDS), shipper.status()["sinks"]
        assert len(es.documents("authlog-setup")) == EVENTS
    assert max(fake_sleep.waits) >= RETRY_AFTER_SECONDS, fake_sleep.waits
