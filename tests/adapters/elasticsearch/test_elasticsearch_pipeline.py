"""End to end through the Shipper: ingest -> durable buffer -> worker -> Elasticsearch adapter -> real client -> stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from es_testkit import every_type_and_reason

from shippers.shipper import Shipper
from shippers.testing.fake_elasticsearch import FakeElasticsearch

DS = "logs-authlog-default"
SINK = "search"
# Why: generous; every flush here finishes in well under a second, the rest is only a safety net.
FLUSH_SECONDS = 60.0
# Why: the exit status the crashing child uses, so a crash is told apart from any other failure.
CRASH_STATUS = 86


def wire_events(n: int, prefix: str = "ev") -> list[bytes]:
    """n wire events cycling through every catalog type and reason, each with a unique id."""
    cases = every_type_and_reason()
    out = []
    for i in range(n):
        type_, reason = cases[i % len(cases)]
        event: dict[str, Any] = {
            "id": f"{prefix}-{i:05d}",
            "type": type_,
            "tenantId": f"t-{i % 3}",
            "userId": f"u-{i}",
            "email": f"user{i}@example.com",
            "ip": "203.0.113.7",
            "userAgent": "pytest",
            "details": {"i": i},
        }
        if reason:
            event["reason"] = reason
        out.append(json.dumps(event).encode())
    return out


def sink_config(server: FakeElasticsearch, **extra: Any) -> dict[str, Any]:
    return {
        "type": "elasticsearch",
        "hosts": [server.url],
        "flavor": server.flavor,
        "data_stream": DS,
        "retry": {"initial": "10ms", "max": "100ms"},
        **extra,
    }


@pytest.fixture
def sleeps() -> list[float]:
    """Every backoff the workers asked for; the injected sleep returns at once, so no test waits."""
    return []


@pytest.fixture
def es_shipper(tmp_path: Path, sleeps: list[float]) -> Iterator[Callable[..., Shipper]]:
    """Build Shippers over one buffer in tmp_path, with the recording sleep; closed afterwards."""
    made: list[Shipper] = []

    def build(sink: dict[str, Any], *, start: bool = True) -> Shipper:
        config = {"buffer": {"path": str(tmp_path / "buf")}, "sinks": {SINK: sink}}
        shipper = Shipper.from_config(config, sleep=sleeps.append)
        made.append(shipper)
        return shipper.start() if start else shipper

    yield build
    for shipper in made:
        # Short: the healthy ones are flushed already, and a failing one only retries until stopped.
        shipper.close(timeout=1.0)


def test_2000_events_with_throttling_and_item_429s_land_exactly_once(
    cluster: FakeElasticsearch, es_shipper: Callable[..., Shipper], sleeps: list[float]
) -> None:
    """2,000 events (two batches of 1000) through whole-request 429s (Retry-After) and per-item 429s all land once, by _id."""
    shipper = es_shipper(sink_config(cluster, batch={"max_events": 1000}), start=False)
    cluster.throttle_next(3, retry_after=2)
    rejected = [f"ev-{i:05d}" for i in range(7, 2000, 40)]  # 50 ids, spread over both batches
    cluster.reject_items(*rejected)
    assert shipper.ingest_raw(wire_events(2000)).accepted == 2000
    shipper.start()
    assert shipper.flush(FLUSH_SECONDS)

    docs = cluster.documents(DS)
    assert sorted(docs) == [f"ev-{i:05d}" for i in range(2000)]
    assert all(doc["event"]["id"] == doc_id for doc_id, doc in docs.items())
    creates = [r for r in cluster.requests if r.path == "/_bulk"]
    status = shipper.status()["sinks"][SINK]
    assert (status["delivered"], status["duplicates"], status["deadLettered"]) == (2000, 0, 0)
    assert status["retries"] >= 4  # three throttled requests and at least one per-item retry
    assert sum(1 for s in sleeps if s >= 2.0) >= 3, "Retry-After: 2 was honoured (retry.max is only 100 ms)"
    # two batches + three throttled attempts + at least one resend of the 429'd items of each batch
    assert len(creates) >= 2 + 3 + 2
    assert shipper.dead_letters(SINK) == []


def test_resend_after_a_crash_counts_409s_as_duplicates(
    cluster: FakeElasticsearch, es_shipper: Callable[..., Shipper], tmp_path: Path
) -> None:
    """A process killed after the cluster took a batch but before the ack resends it: 409s, counted as duplicates."""
    config = {"buffer": {"path": str(tmp_path / "buf")}, "sinks": {SINK: sink_config(cluster)}}
    child = textwrap.dedent(
        f"""
        import json, os, sys
        import shippers
        from shippers.buffer import SqliteBuffer
        from shippers.shipper import Shipper

        def crash(*args, **kwargs):  # the cluster answered; die before the ack is committed
            os._exit({CRASH_STATUS})

        SqliteBuffer.settle = crash
        shipper = Shipper.from_config(json.loads(sys.argv[1]))
        events = [json.dumps({{"id": f"crash-{{i:05d}}", "type": "login.completed", "userId": f"u-{{i}}"}}).encode()
                  for i in range(300)]
        assert shipper.ingest_raw(events).accepted == 300
        shipper.start()
        shipper.flush(30)
        sys.exit(1)  # not reached: the first ack crashes the process
        """
    )
    script = tmp_path / "crash_child.py"
    script.write_text(child)
    result = subprocess.run(
        [sys.executable, str(script), json.dumps(config)], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == CRASH_STATUS, result.stderr.decode()[-2000:]
    assert len(cluster.documents(DS)) == 300  # the batch landed before the crash

    restarted = es_shipper(sink_config(cluster))
    assert restarted.flush(FLUSH_SECONDS)
    status = restarted.status()["sinks"][SINK]
    assert (status["duplicates"], status["delivered"], status["deadLettered"]) == (300, 0, 0)
    assert status["lastError"] is None and status["state"] == "active"
    assert sorted(cluster.documents(DS)) == [f"crash-{i:05d}" for i in range(300)]


def test_mapping_error_goes_to_the_dlq_and_the_rest_of_its_batch_lands(
    cluster: FakeElasticsearch, es_shipper: Callable[..., Shipper]
) -> None:
    """A 400 item is dead-lettered with the server's reason while the other 99 events of its batch land."""
    shipper = es_shipper(sink_config(cluster), start=False)
    cluster.mapping_error_for("ev-00042")
    assert shipper.ingest_raw(wire_events(100)).accepted == 100
    shipper.start()
    assert shipper.flush(FLUSH_SECONDS)

    docs = cluster.documents(DS)
    assert len(docs) == 99 and "ev-00042" not in docs
    (dead,) = shipper.dead_letters(SINK)
    assert dead.event.id == "ev-00042"
    assert "failed to parse field [source.ip] of type [ip]" in dead.reason
    assert dead.reason.startswith(("document_parsing_exception: ", "mapper_parsing_exception: "))
    status = shipper.status()["sinks"][SINK]
    assert (status["delivered"], status["deadLettered"], status["duplicates"]) == (99, 1, 0)
    assert len([r for r in cluster.requests if r.path == "/_bulk"]) == 1  # one batch, nothing resent


def test_oversized_bulk_is_split_until_it_fits(es: FakeElasticsearch, es_shipper: Callable[..., Shipper]) -> None:
    """A cluster with a small http.max_content_length answers 413; halves are sent until every event lands."""
    es.max_content_length = 40_000  # about 60 events per request
    shipper = es_shipper(sink_config(es), start=False)
    assert shipper.ingest_raw(wire_events(500)).accepted == 500
    shipper.start()
    assert shipper.flush(FLUSH_SECONDS)
    assert len(es.documents(DS)) == 500
    status = shipper.status()["sinks"][SINK]
    assert (status["delivered"], status["deadLettered"]) == (500, 0)


def test_wrong_flavor_keeps_every_event_and_marks_the_sink_failing(
    opensearch: FakeElasticsearch, es_shipper: Callable[..., Shipper]
) -> None:
    """Elasticsearch flavor against OpenSearch: the sink is failing with the fix named, nothing dead-lettered."""
    sink = sink_config(opensearch)
    sink["flavor"] = "elasticsearch"
    shipper = es_shipper(sink, start=False)
    assert shipper.ingest_raw(wire_events(10)).accepted == 10
    shipper.start()
    assert not shipper.flush(0.5)
    status = shipper.status()["sinks"][SINK]
    assert status["state"] == "failing" and 'flavor = "opensearch"' in (status["lastError"] or "")
    assert status["deadLettered"] == 0 and status["lagEvents"] == 10
    assert opensearch.documents() == {}
