"""Fault injection on a full sink with ``when_full = "drop_oldest"``: ``dropped`` counts the events that sink
routes and lost, never the other traffic its cursor passed.

A sink routing only ``user.*`` that is down while logins flow past loses its one ``user.*`` event: it
says ``dropped = 1``, not the number of logins it was never going to receive.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shippers.buffer import SinkPolicy, SqliteBuffer
from shippers.config import RouteConfig
from shippers.event import Event, encode_event
from shippers.routing import Route
from shippers.shipper import Shipper
from shippers.testing import chaos

# Why: a cap a few hundred logins overflow many times over, so drop_oldest runs on most appends.
CAP = "8KiB"
CAP_BYTES = 8 * 1024


def event(kind: str, outcome: str = "success", tenant: str | None = None) -> tuple[Event, bytes]:
    e = Event(
        id=f"{kind}-{tenant}", type=kind, time="2026-12-01T00:00:00Z", tenantId=tenant, details={"pad": "x" * 200},
        action="a", outcome=outcome, description="d", schemaVersion=1,
    )
    return e, encode_event(e)


def test_a_down_sink_routing_one_type_counts_only_its_own_lost_event(make_shipper: Callable[..., Shipper]) -> None:
    """A user.* sink that is down while 300 logins pass its cursor reports dropped = 1 (its one user.locked event)."""
    chaos.script("mfa").permanent("503 down", sticky=True)
    shipper = make_shipper({
        "all": {"type": "memory"},
        "mfa": {"type": "chaos", "route": {"types": ["user.*"]}, "when_full": "drop_oldest", "max_backlog": CAP},
    })
    shipper.emit("user.locked", userId="u0")
    for i in range(300):
        shipper.emit("login.completed", userId=f"u{i}")
    sink = shipper.status()["sinks"]["mfa"]
    assert sink["dropped"] == 1, sink
    assert shipper.metrics.registry.get_sample_value("authlog_sink_dropped_total", {"sink": "mfa"}) == 1


def test_the_store_counts_a_drop_by_the_sinks_route(tmp_path: Path) -> None:
    """Rows the route skips (other types, outcomes, tenants, another sink's replays) are passed, not counted as dropped."""
    store = SqliteBuffer(tmp_path / "buf", max_bytes=1 << 30)
    try:
        store.register_sinks([SinkPolicy("t1", "memory", "drop_oldest", CAP_BYTES, "tail")], remove_others=False)
        route = Route("t1", RouteConfig(types=["login.*"], outcomes=["success"], tenants=["t-1"]))
        store.use_routes({"t1": route.takes})
        routed = event("login.completed", tenant="t-1")
        others = [event("login.completed", tenant="t-2"), event("login.failed", "failure", "t-1"), event("user.locked", tenant="t-1")]
        store.append([routed] * 3 + others * 3)
        store.append([routed], only_sink="t2")  # a replay for another sink
        for _ in range(60):  # ~16 KiB more than the cap: everything above is dropped
            store.append([others[0]])
        [sink] = store.sinks()
        assert sink.watermark > 13  # the cursor passed all of the above
        assert sink.dropped == 3
    finally:
        store.close()


def test_a_producer_whose_route_differs_from_the_deliverers_never_drops_uncounted(make_shipper: Callable[..., Shipper]) -> None:
    """A non-delivering process whose config gives a drop_oldest sink a narrower route counts every row it drops, not just the ones its route takes."""
    deliverer = make_shipper({"alerts": {"type": "memory", "when_full": "drop_oldest", "max_backlog": CAP}})
    deliverer.close(2)  # the sink is registered with no route: it takes every event
    producer = make_shipper(
        {"alerts": {"type": "memory", "when_full": "drop_oldest", "max_backlog": CAP, "route": {"types": ["user.locked"]}}},
        start=False,
    )
    for i in range(200):
        producer.emit("login.completed", userId=f"u{i}")
    [row] = [r for r in producer.buffer.sinks() if r.name == "alerts"]
    assert row.watermark > 0 and row.dropped == row.watermark  # every event moved past was counted as dropped
