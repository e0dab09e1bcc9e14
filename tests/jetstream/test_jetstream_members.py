"""The fleet's member list in `authlog status`: a member's heartbeat age is measured by when the servers stored its beat, so a
member whose own clock is off (stepped, never synced) is neither shown as long dead nor as forever fresh."""

from __future__ import annotations

import time

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import sink_policy
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.waiting import wait_for

# Why: a member's clock an hour behind: far beyond any heartbeat interval, so the age tells the two readings apart.
SKEW_SECONDS = 3600.0
# Why: well above a heartbeat interval (5 s) and a slow test machine, well below the skew.
FRESH_SECONDS = 60.0


def test_a_member_whose_clock_is_an_hour_behind_is_listed_as_just_seen(nats_server: NatsCluster) -> None:
    """A member beating with a clock an hour behind is listed by another member with an age of seconds, not an hour."""
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1)
    behind = JetStreamBuffer(config, clock=lambda: time.time() - SKEW_SECONDS)
    reader = JetStreamBuffer(config, clock=time.time)
    try:
        behind.register_sinks([sink_policy("a")])
        wait_for(lambda: len(reader.members.listed()) == 1, "the member's first heartbeat")
        [member] = reader.members.listed()
        assert member["id"] == behind.member_id and member["ageSeconds"] < FRESH_SECONDS
    finally:
        behind.close()
        reader.close()
