"""A member handed again what it still holds (its renewals did not reach the server for longer than ack_wait: a partition,
a paused VM): the new delivery joins the held message instead of becoming a second copy that it cuts and sends again."""

from __future__ import annotations

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.buffer.records import NewBatch, StoredRow
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy, stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import scan_all
from shippers.testing.waiting import wait_for


def test_a_redelivery_of_a_held_message_to_the_same_member_is_not_a_second_copy(nats_server: NatsCluster) -> None:
    """After ack_wait passes unrenewed, the member fetches its own held events again: no new rows, one ack settles each."""
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, ack_wait=1.0), clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a")])
        source = buffer.delivery_source("a")
        source._closed = True  # its renewals stop (after at most one): the server hands the events out again after ack_wait
        buffer.append(stored_events(5))
        held = scan_all(source, "a", 5)
        again: list[StoredRow] = []

        def redelivered() -> bool:
            again.extend(source.scan(held[-1].seq, 10))
            return source.counters.redelivered >= 5

        wait_for(redelivered, "the 5 held events handed to this member again")
        assert again == [] and source.held() == 5 and source.last_seq() == 5
        [batch] = source.record_cut("a", [NewBatch("", None, [row.seq for row in held])], [], held[-1].seq)
        assert source.settle(batch, delivered=5)
        wait_for(lambda: buffer.position("a")[0] >= 5, "every event acknowledged on the consumer")
        assert source.held() == 0
    finally:
        buffer.close()

