"""The dashboard metrics: oldest pending age per sink (status and gauge), DLQ size that falls after replay or purge, the store's limit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.waiting import wait_for


class Clock:
    """A wall clock the test moves by hand (event times stay near now: the validator checks them)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def lines(n: int, kind: str, prefix: str) -> list[bytes]:
    return [json.dumps({"id": f"{prefix}{i}", "type": kind}).encode() for i in range(n)]


def oldest(shipper: Shipper, sink: str) -> tuple[float | None, float | None]:
    age = shipper.status()["sinks"][sink]["oldestPendingAgeSeconds"]
    return age, shipper.metrics.registry.get_sample_value("authlog_sink_oldest_pending_age_seconds", {"sink": sink})


def test_oldest_pending_age_of_a_waiting_sink_is_its_first_routed_event(make_shipper: Callable[..., Shipper]) -> None:
    """A sink routing only user.locked, batch not due: its age counts from the first user.locked accepted, not the older others."""
    clock = Clock()
    shipper = make_shipper({"alerts": {"type": "memory", "route": {"types": ["user.locked"]}, "batch": {"timeout": "1h"}}},
                           clock=clock)
    shipper.ingest_raw(lines(3, "login.completed", "a"))
    assert oldest(shipper, "alerts") == (None, 0.0)  # nothing it routes is pending
    clock.now += 40
    shipper.ingest_raw(lines(2, "user.locked", "f"))
    clock.now += 25
    assert oldest(shipper, "alerts") == (25.0, 25.0)
    assert shipper.flush(10)
    assert oldest(shipper, "alerts") == (None, 0.0)


def test_oldest_pending_age_of_a_failing_sink_is_its_oldest_batch_in_flight(make_shipper: Callable[..., Shipper]) -> None:
    """A down sink holding a recorded batch: the age runs from that batch's first event while newer ones queue behind it."""
    chaos.script("siem").permanent("403 Forbidden: check the API key")
    clock = Clock()
    sink = {"type": "chaos", "batch": {"timeout": "0s"}, "retry": {"initial": "1h", "max": "1h"}}
    shipper = make_shipper({"siem": sink}, clock=clock)
    shipper.ingest_raw(lines(2, "login.completed", "a"))
    wait_for(lambda: shipper.status()["sinks"]["siem"]["state"] == "failing", "the first batch sent and refused")
    clock.now += 600
    shipper.ingest_raw(lines(3, "login.completed", "b"))
    clock.now += 60
    assert oldest(shipper, "siem") == (660.0, 660.0)


def test_dlq_gauge_and_store_limit(make_shipper: Callable[..., Shipper]) -> None:
    """authlog_sink_dlq_events is the DLQ's size now: 2 after two rejections, 0 after a replay; the store's max_bytes is exported."""
    chaos.script("r").reject_ids({"e-3", "e-7"})
    shipper = make_shipper({"r": {"type": "chaos"}}, buffer={"max_bytes": "64MiB"})
    shipper.ingest_raw(lines(10, "login.completed", "e-"))
    assert shipper.flush(10)

    def dlq() -> tuple[int, float | None]:
        return shipper.status()["sinks"]["r"]["dlqEvents"], shipper.metrics.registry.get_sample_value(
            "authlog_sink_dlq_events", {"sink": "r"})

    assert dlq() == (2, 2.0)
    chaos.script("r").rejected_ids.clear()
    assert shipper.replay_dead_letters("r") == 2
    assert shipper.flush(10)
    assert dlq() == (0, 0.0)
    assert shipper.metrics.registry.get_sample_value("authlog_buffer_max_bytes") == 64 * 1024 * 1024


def test_dlq_gauge_falls_after_a_purge(make_shipper: Callable[..., Shipper]) -> None:
    """Purging a sink's dead letters brings its DLQ gauge back to 0 at the next status (as a scrape does)."""
    chaos.script("r").reject_ids({"e-1"})
    shipper = make_shipper({"r": {"type": "chaos"}})
    shipper.ingest_raw(lines(3, "login.completed", "e-"))
    assert shipper.flush(10)
    shipper.status()
    assert shipper.metrics.registry.get_sample_value("authlog_sink_dlq_events", {"sink": "r"}) == 1.0
    assert shipper.purge_dead_letters("r") == 1
    shipper.status()
    assert shipper.metrics.registry.get_sample_value("authlog_sink_dlq_events", {"sink": "r"}) == 0.0
