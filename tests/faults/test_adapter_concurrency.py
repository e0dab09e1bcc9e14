"""Every adapter at concurrency 1 and 4, its stand-in behind a fault front (429 with Retry-After, 503,
dropped connections, answers lost after the write, answers cut mid-way): every event lands, by id.

Destinations that de-duplicate (Elasticsearch by ``_id``, S3 by object key) hold each event once;
the others (Datadog, Cloud Logging: it de-duplicates by insertId only when read) may hold a second
copy only of events whose request reached them and whose answer was lost or cut.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shippers.shipper import Shipper
from shippers.testing.fake_cloud_logging import FakeCloudLogging
from shippers.testing.fake_datadog import FakeDatadog
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.fault_front import CUT, DROP, LOSE, PASS, Fault, FaultFront, Seen, status
from shippers.testing.moto_s3 import MotoS3

EVENTS = 400
# Why: the file sink is cheap; 10x the events and 4 KiB files make it rotate ~250 times with batches in flight.
FILE_EVENTS = 4000
# Why: 25-event batches make 16 batches, so four are in flight at once at concurrency 4.
BATCH_EVENTS = 25
# Why: a hint longer than any backoff this test configures, so a wait that honours it is recognisable.
RETRY_AFTER_SECONDS = 7
# Why: the faults, in order, for the first faulted requests (then every request passes).
FAULTS: tuple[Fault, ...] = (
    status(429, RETRY_AFTER_SECONDS), PASS, status(503), DROP, PASS, LOSE, status(429, RETRY_AFTER_SECONDS),
    CUT, PASS, status(503), DROP, LOSE, PASS, CUT, status(429, RETRY_AFTER_SECONDS), PASS,
)
# Why: the fault-free run takes well under a second; 60 s means delivery is stuck.
FLUSH_TIMEOUT_SECONDS = 60.0
PROJECT = "test-project"
DD_KEY = "dd-test-key-0123456789abcdef"
COMMON = {"retry": {"initial": "10ms", "max": "50ms"}, "batch": {"max_events": BATCH_EVENTS, "timeout": "50ms"}}


@dataclass
class Destination:
    """One adapter's stand-in behind a front: how to configure the sink and read back what landed."""

    sink: dict[str, Any]
    front: FaultFront | None
    delivered: Callable[[], list[str]]  # every event id stored, one entry per stored copy
    dedups: bool  # the destination keeps one copy per id
    events: int = EVENTS


def _es(stack: ExitStack, tmp_path: Path) -> Destination:
    es = stack.enter_context(FakeElasticsearch())
    front = stack.enter_context(FaultFront(es.url, lambda m, p: p.split("?")[0].endswith("/_bulk")))
    return Destination({"type": "elasticsearch", "hosts": [front.url], "index": "authlog-conc"}, front,
                       lambda: list(es.documents("authlog-conc")), dedups=True)


def _s3(stack: ExitStack, tmp_path: Path) -> Destination:
    s3 = stack.enter_context(MotoS3())
    bucket = f"conc-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    s3.make_bucket(bucket)
    front = stack.enter_context(FaultFront(s3.url, lambda m, p: m == "PUT" and p.strip("/").count("/") >= 1))

    def ids() -> list[str]:
        return [line.get("metadata", {}).get("uid") or line["id"] for lines in s3.read_lines(bucket).values() for line in lines]

    return Destination({"type": "s3", "bucket": bucket, "endpoint_url": front.url, "region": s3.region}, front, ids, dedups=True)


def _datadog(stack: ExitStack, tmp_path: Path) -> Destination:
    dd = stack.enter_context(FakeDatadog(api_key=DD_KEY))
    front = stack.enter_context(FaultFront(dd.url, lambda m, p: p.startswith("/api/v2/logs")))
    return Destination({"type": "datadog", "api_key": DD_KEY, "endpoint": front.url}, front,
                       lambda: [item["evt"]["id"] for item in dd.items()], dedups=False)


def _cloud_logging(stack: ExitStack, tmp_path: Path) -> Destination:
    gcl = stack.enter_context(FakeCloudLogging(projects=(PROJECT,)))
    front = stack.enter_context(FaultFront(gcl.url, lambda m, p: p.startswith("/v2/entries:write")))
    return Destination({"type": "cloud_logging", "project": PROJECT, "endpoint": front.url}, front,
                       lambda: [entry["insertId"] for entry in gcl.entries()], dedups=False)


def _file(stack: ExitStack, tmp_path: Path) -> Destination:
    out = tmp_path / "out"

    def ids() -> list[str]:
        return [json.loads(line)["id"] for f in sorted(out.glob("events.ndjson*")) for line in f.read_bytes().splitlines() if line]

    return Destination({"type": "file", "path": str(out / "events.ndjson"), "max_file_bytes": "4KiB"}, None, ids,
                       dedups=True, events=FILE_EVENTS)


ADAPTERS = {"file": _file, "elasticsearch": _es, "s3": _s3, "datadog": _datadog, "cloud_logging": _cloud_logging}


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as resources:
        yield resources


def wire_events(n: int) -> list[bytes]:
    types = ("login.completed", "login.invalid_password", "signup.completed", "password_reset.completed")
    return [
        json.dumps({"id": f"cc-{i:05d}", "type": types[i % len(types)], "userId": f"u-{i % 13}", "tenantId": f"t-{i % 2}",
                    "ip": "203.0.113.7"}).encode()
        for i in range(n)
    ]


def unanswered_copies(seen: list[Seen]) -> int:
    """Requests that reached the destination but whose answer the shipper never read: each may be resent."""
    return sum(1 for s in seen if s.fault.kind in ("lose", "cut"))


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_every_event_lands_by_id_under_faults(
    adapter: str, concurrency: int, tmp_path: Path, stack: ExitStack, make_shipper: Callable[..., Shipper], fake_sleep: Any
) -> None:
    """At this concurrency, through 429s (with Retry-After), 503s, dropped, lost and cut answers, every event
    reaches the destination (once where it de-duplicates), nothing is dead-lettered, and every 429's
    Retry-After is waited out."""
    destination = ADAPTERS[adapter](stack, tmp_path)
    if destination.front is not None:
        destination.front.queue(*FAULTS)
    shipper = make_shipper({"sink": {**destination.sink, **COMMON, "concurrency": concurrency}}, sleep=fake_sleep)
    result = shipper.ingest_raw(wire_events(destination.events))
    assert result.accepted == destination.events
    assert shipper.flush(FLUSH_TIMEOUT_SECONDS), f"not caught up: {shipper.status()['sinks']}"

    copies = Counter(destination.delivered())
    expected = {f"cc-{i:05d}" for i in range(destination.events)}
    row = shipper.status()["sinks"]["sink"]
    missing = expected - set(copies)
    assert not missing, f"{len(missing)} events never landed, e.g. {sorted(missing)[:5]}; sink: {row}"
    assert set(copies) == expected, "the destination holds ids nobody sent"
    extra = sum(n - 1 for n in copies.values())
    if destination.dedups:
        assert extra == 0, f"{extra} second copies at a destination that de-duplicates"
    elif destination.front is not None:
        assert extra <= unanswered_copies(destination.front.seen) * BATCH_EVENTS, f"{extra} second copies"
    assert shipper.buffer.dead_letter_count("sink") == 0, shipper.buffer.dead_letters("sink")[:3]
    if destination.front is not None:
        throttled = sum(1 for s in destination.front.seen if s.fault.kind == "status" and s.fault.status == 429)
        honoured = sum(1 for wait in fake_sleep.waits if wait >= RETRY_AFTER_SECONDS)
        assert throttled == sum(1 for f in FAULTS if f.status == 429), "not every injected 429 was met"
        assert honoured >= throttled, f"{throttled} answers said Retry-After {RETRY_AFTER_SECONDS}s, {honoured} waits were that long"
