"""`authlog dlq replay` on a fleet: a sink's letters are only taken out of the DLQ stream when a consumer is there to take them
(the events stream keeps, under interest retention, only what some consumer wants)."""

from __future__ import annotations

import pytest

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.errors import BufferError
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy, stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import dead, scan_all


def test_replaying_the_letters_of_a_sink_without_a_consumer_refuses_and_keeps_them(nats_server: NatsCluster) -> None:
    """Letters of a sink whose consumer was removed (or never made) stay in the DLQ: replay says why instead of dropping them."""
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a"), sink_policy("b")])
        buffer.append(stored_events(3))
        source = buffer.delivery_source("b")
        rows = scan_all(source, "b", 3)
        source.record_cut("b", [], [dead(row) for row in rows], rows[-1].seq)
        assert buffer.dead_letter_count("b") == 3
        buffer.forget_sink("b")
        with pytest.raises(BufferError, match="'b'.*no consumer"):
            buffer.replay_dead_letters("b")
        assert buffer.dead_letter_count("b") == 3
    finally:
        buffer.close()
