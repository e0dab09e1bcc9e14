"""lagEvents in status and authlog_sink_lag_events count only the events a sink routes, scanned past or not, in flight or waiting."""

from __future__ import annotations

from collections.abc import Callable

from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.waiting import wait_for


def lines(n: int, kind: str, prefix: str) -> list[bytes]:
    return [b'{"id":"%s%d","type":"%s"}' % (prefix.encode(), i, kind.encode()) for i in range(n)]


def lag_of(shipper: Shipper, sink: str) -> tuple[int, float | None]:
    status = shipper.status()["sinks"][sink]["lagEvents"]
    return status, shipper.metrics.registry.get_sample_value("authlog_sink_lag_events", {"sink": sink})


def test_events_a_waiting_sink_does_not_route_are_not_its_lag(make_shipper: Callable[..., Shipper]) -> None:
    """A sink taking only user.locked, its batch not due for an hour, lags by its 2 events, not by the 10 others stored beside them."""
    shipper = make_shipper({"alerts": {"type": "memory", "route": {"types": ["user.locked"]}, "batch": {"timeout": "1h"}}})
    shipper.ingest_raw(lines(5, "login.completed", "a") + lines(2, "user.locked", "f") + lines(5, "login.completed", "b"))
    assert lag_of(shipper, "alerts") == (2, 2.0)
    assert shipper.flush(10)
    assert lag_of(shipper, "alerts") == (0, 0.0)


def test_a_failing_sink_lags_by_its_batch_in_flight_and_the_routed_events_behind_it(make_shipper: Callable[..., Shipper]) -> None:
    """A down sink with a recorded batch of 2 and 1 more routed event stored after it lags by 3, whatever else the store holds."""
    chaos.script("alerts").permanent("403 Forbidden: check the API key")
    sink = {"type": "chaos", "route": {"types": ["user.locked"]}, "batch": {"timeout": "0s"}, "retry": {"initial": "1h", "max": "1h"}}
    shipper = make_shipper({"alerts": sink})
    shipper.ingest_raw(lines(10, "login.completed", "a") + lines(2, "user.locked", "f") + lines(10, "login.completed", "b"))
    wait_for(lambda: shipper.status()["sinks"]["alerts"]["state"] == "failing", "the batch of two sent and refused")
    shipper.ingest_raw(lines(5, "login.completed", "c") + lines(1, "user.locked", "g"))
    assert lag_of(shipper, "alerts") == (3, 3.0)
