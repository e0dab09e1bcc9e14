"""The spool of a process that only publishes (an app's shippers.configure() with a fleet config and [buffer] spool): what it
took during an outage is forwarded once the cluster is back, though that process never delivers (it acknowledged them)."""

from __future__ import annotations

from pathlib import Path

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy, stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import scan_all
from shippers.testing.waiting import wait_for


def test_a_publish_only_process_forwards_what_its_spool_took(nats_server: NatsCluster, tmp_path: Path) -> None:
    """An app (never registers sinks) spools 3 events while the server is down; once it is back the member's sink gets them."""
    member = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    app = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, emit_timeout=0.5,
                                       spool=str(tmp_path / "spool")), clock=lambda: CONTRACT_NOW)
    try:
        member.register_sinks([sink_policy("a", start_at="oldest")])
        nats_server.kill("n1")
        app.append(stored_events(3))  # spooled: the app's 202 / emit() returned
        nats_server.restart("n1")
        rows = scan_all(member.delivery_source("a"), "a", 3)
        assert sorted(row.body for row in rows) == sorted(body for _, body in stored_events(3))
        wait_for(lambda: app.spool is not None and app.spool.forwarded == 3, "the app's spool forwarded")
    finally:
        app.close()
        member.close()
