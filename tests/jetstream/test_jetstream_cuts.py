"""Keyed cuts (S3) on a fleet: recorded in the cuts bucket before they are sent, so the member that takes over a dead
member's batch resends it under the same key; a record that cannot be collected whole is given up, never waited on forever."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.buffer.jetstream.cuts import ADOPT_GRACE_SECONDS, CutRecord
from shippers.buffer.records import NewBatch
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy, stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import scan_all
from shippers.testing.waiting import wait_for


@pytest.fixture
def members(nats_server: NatsCluster) -> Iterator[list[JetStreamBuffer]]:
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, ack_wait=1.0)
    made = [JetStreamBuffer(config, clock=lambda: CONTRACT_NOW) for _ in range(2)]
    made[0].register_sinks([sink_policy("s3")])
    yield made
    for member in made:
        member.close()


def test_a_takeover_resends_a_dead_members_keyed_batch_under_its_key(members: list[JetStreamBuffer]) -> None:
    """A batch cut with key obj-1 by a member that then died comes back to the other member whole, as one batch keyed obj-1,
    never through its scan; once settled its record is gone."""
    dying, survivor = members
    dying.append(stored_events(5))
    source = dying.delivery_source("s3")
    rows = scan_all(source, "s3", 5)
    source.record_cut("s3", [NewBatch("p", "obj-1", [row.seq for row in rows])], [], rows[-1].seq)
    assert len(survivor.delivery_source("s3").cuts.load()) == 5  # recorded before anything was sent
    dying.close()
    taker = survivor.delivery_source("s3")
    adopted = []

    def collected() -> bool:
        assert taker.scan(taker.position("s3")[1], 100) == []  # the batch's events never reach the scan
        adopted.extend(taker.adopted_batches("s3"))
        return bool(adopted)

    wait_for(collected, "the dead member's batch, taken over")
    [batch] = adopted
    assert (batch.partition, batch.key) == ("p", "obj-1")
    assert [row.body for row in taker.read(batch.seqs)] == [row.body for row in rows]
    assert taker.settle(batch, duplicates=5)
    assert taker.cuts.load() == {}


def test_a_partial_settle_rewrites_the_record_before_the_acks(members: list[JetStreamBuffer]) -> None:
    """Settling part of a keyed batch leaves a record holding only the events still to send."""
    member = members[0]
    member.append(stored_events(3))
    source = member.delivery_source("s3")
    rows = scan_all(source, "s3", 3)
    [batch] = source.record_cut("s3", [NewBatch("", "obj-2", [row.seq for row in rows])], [], rows[-1].seq)
    source.settle(batch, delivered=2, remaining=[rows[-1].seq])
    [record] = set(source.cuts.load().values())
    assert record.key == "obj-2" and len(record.stream_seqs) == 1


def test_a_record_never_collected_whole_is_given_up_after_the_grace(members: list[JetStreamBuffer]) -> None:
    """A record naming an event this member will never be handed holds the others back only for the grace, then they are
    scanned as new events and the record is deleted."""
    dying, survivor = members
    dying.append(stored_events(2))
    source = dying.delivery_source("s3")
    rows = scan_all(source, "s3", 2)
    [batch] = source.record_cut("s3", [NewBatch("", "obj-3", [row.seq for row in rows])], [], rows[-1].seq)
    [record] = set(source.cuts.load().values())
    source.cuts.put([CutRecord(record.name, record.partition, record.key, (*record.stream_seqs, 999_999))])  # one it never gets
    dying.close()
    taker = survivor.delivery_source("s3")
    now = [0.0]
    taker.adoptions.monotonic = lambda: now[0]
    wait_for(lambda: taker.scan(taker.position("s3")[1], 100) == [] and taker.adoptions.collecting, "the partial record collected")
    assert taker.adopted_batches("s3") == []
    now[0] += ADOPT_GRACE_SECONDS + 1
    again = taker.scan(taker.position("s3")[1], 100)
    assert sorted(row.body for row in again) == sorted(row.body for row in rows)
    assert taker.cuts.load() == {}
