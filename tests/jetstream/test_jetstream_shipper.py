"""A Shipper on a JetStream buffer: ingest acknowledged by the stream, duplicates counted, delivery through the shared consumer,
takeover of what a dead member held, a full stream and an unreachable server refused with what to do."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.errors import (
    BufferCorruptError,
    BufferFullError,
    BufferUnavailableError,
    BufferUnreachableError,
    ConfigError,
)
from shippers.samples import sample_events
from shippers.shipper import Shipper
from shippers.testing import memory
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy, stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import scan_all
from shippers.testing.waiting import wait_for


def fleet_config(cluster: NatsCluster, **buffer: Any) -> dict[str, Any]:
    return {"buffer": {"kind": "jetstream", "servers": cluster.urls, "replicas": 1, **buffer},
            "sinks": {"mem": {"type": "memory", "start_at": "oldest", "batch": {"max_events": 50, "timeout": "50ms"}}}}


def items(n: int, seed: int = 1) -> list[bytes]:
    events = sample_events(n, seed=seed)
    return [json.dumps(next(events)).encode() for _ in range(n)]


def test_events_ingested_by_one_member_are_delivered_and_resends_are_counted_as_duplicates(nats_server: NatsCluster) -> None:
    """ingest_raw returns once the stream holds the events; the same items again are accepted as duplicates; the sink gets each once."""
    batch = items(120)
    with Shipper.from_config(fleet_config(nats_server), deliver=True) as shipper:
        first = shipper.ingest_raw(batch)
        again = shipper.ingest_raw(batch)
        assert (first.accepted, first.duplicates) == (120, 0)
        assert (again.accepted, again.duplicates) == (120, 120)
        assert shipper.metrics.registry.get_sample_value("authlog_ingest_duplicates_total") == 120
        wait_for(lambda: len(memory.delivered_ids("mem")) >= 120, "120 events at the sink")
        assert shipper.flush(10)
        assert sorted(memory.delivered_ids("mem")) == sorted(json.loads(item)["id"] for item in batch)
        status = shipper.status()
        assert status["sinks"]["mem"]["lagEvents"] == 0 and status["sinks"]["mem"]["delivered"] == 120
        assert status["fleet"]["sinks"]["mem"]["ownDelivered"] == 120 and len(status["fleet"]["members"]) == 1


def test_two_members_share_the_sink_and_each_event_is_delivered_once(nats_server: NatsCluster) -> None:
    """Two shippers on one stream deliver one sink between them: every event arrives, none twice (nobody died)."""
    batch = items(400, seed=2)
    with Shipper.from_config(fleet_config(nats_server), deliver=True) as one, Shipper.from_config(fleet_config(nats_server), deliver=True) as two:
        for start in range(0, 400, 50):
            (one if start % 100 else two).ingest_raw(batch[start : start + 50])
        wait_for(lambda: len(memory.delivered_ids("mem")) >= 400, "400 events at the sink")
        assert one.flush(10) and two.flush(10)
        delivered = memory.delivered_ids("mem")
        assert len(delivered) == len(set(delivered)) == 400


def test_what_a_dead_member_held_goes_to_another_after_ack_wait(nats_server: NatsCluster) -> None:
    """A member that cut a batch and died without settling it leaves it to the consumer: another member is handed it after ack_wait."""
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, ack_wait=1.0)
    dying, survivor = JetStreamBuffer(config, clock=lambda: CONTRACT_NOW), JetStreamBuffer(config, clock=lambda: CONTRACT_NOW)
    try:
        dying.register_sinks([sink_policy("a")])
        dying.append(stored_events(5))
        held = scan_all(dying.delivery_source("a"), "a", 5)
        assert survivor.delivery_source("a").scan(0, 10) == []  # held by the other member: not handed out twice
        dying.link.close()  # no ack, no nak: as kill -9 (the connection goes, the consumer keeps the messages for ack_wait)
        taken = scan_all(survivor.delivery_source("a"), "a", 5)
        assert [row.body for row in taken] == [row.body for row in held]
        assert survivor.delivery_source("a").counters.redelivered == 5
    finally:
        dying.close()
        survivor.close()


def test_a_full_stream_refuses_with_retry_after(nats_server: NatsCluster) -> None:
    """Past [buffer] max_bytes the stream refuses new events: BufferFullError (store_full, Retry-After); what it took stays."""
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, max_bytes=1024**2)
    buffer = JetStreamBuffer(config, clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a")])  # nobody delivers: the stream fills
        with pytest.raises(BufferFullError) as refused:
            for start in range(0, 10_000, 500):
                buffer.append(stored_events(500, start))
        assert refused.value.kind == "store_full" and refused.value.retry_after > 0 and "max_bytes" in str(refused.value)
        assert 0 < buffer.stats()["events"] < 10_000
    finally:
        buffer.close()


def test_an_unreachable_server_is_refused_and_ingest_resumes_by_itself(nats_server: NatsCluster) -> None:
    """With the server down an append raises BufferUnavailableError saying so; once it is back the same handle appends again."""
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, emit_timeout=0.5)
    buffer = JetStreamBuffer(config, clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a")])
        buffer.append(stored_events(1))
        nats_server.kill("n1")
        with pytest.raises(BufferUnavailableError) as refused:
            buffer.append(stored_events(1, 1))
        assert "JetStream" in str(refused.value) and refused.value.retry_after > 0
        nats_server.restart("n1")

        def appended() -> bool:
            try:
                buffer.append(stored_events(1, 2))
            except BufferUnavailableError:
                return False
            return True

        wait_for(appended, "an append after the server came back", deadline_seconds=30)
    finally:
        buffer.close()


def test_emit_into_an_unreachable_cluster_raises_buffer_full_error_after_emit_timeout(nats_server: NatsCluster) -> None:
    """emit() with the cluster down raises, after [buffer] emit_timeout, the BufferFullError an app handles for a full
    embedded store (an unreachable-kind one), counted as store_unavailable; once the server is back emit() works again."""
    with Shipper.from_config(fleet_config(nats_server, emit_timeout="300ms"), deliver=True) as shipper:
        shipper.emit("login.completed", userId="u-1")
        nats_server.kill("n1")
        with pytest.raises(BufferFullError) as refused:
            shipper.emit("login.completed", userId="u-2")
        assert isinstance(refused.value, BufferUnreachableError) and refused.value.kind == "unreachable"
        assert "JetStream cluster" in str(refused.value)
        refusals = shipper.metrics.registry.get_sample_value("authlog_events_refused_total", {"reason": "store_unavailable"})
        assert refusals == 1
        nats_server.restart("n1")

        def emitted() -> bool:
            try:
                shipper.emit("login.completed", userId="u-3")
            except BufferFullError:
                return False
            return True

        wait_for(emitted, "an emit() after the server came back", deadline_seconds=30)


def test_a_member_that_routes_a_sink_unlike_the_fleet_is_refused_naming_the_route(nats_server: NatsCluster) -> None:
    """A second member whose route for the same sink leaves types out is refused at start (ConfigError naming
    sinks.mem.route): sharing the consumer it would acknowledge, unsent, events the first member's route sends;
    a member with the same route written otherwise (another order, a repeat) joins."""
    everything = fleet_config(nats_server)
    logins_only = fleet_config(nats_server)
    logins_only["sinks"]["mem"]["route"] = {"types": ["login.*"]}
    same_route = fleet_config(nats_server)
    same_route["sinks"]["mem"]["route"] = {"types": ["*", "*"]}
    with Shipper.from_config(everything, deliver=True):
        with pytest.raises(ConfigError, match=r"sinks\.mem\.route: .*types=login\.\*.*created for types=\*"):
            Shipper.from_config(logins_only, deliver=True)
        with Shipper.from_config(same_route, deliver=True) as twin:
            assert twin.ingest_raw(items(3)).accepted == 3


def test_a_stream_made_with_other_replicas_is_refused_by_name(nats_server: NatsCluster) -> None:
    """A present stream whose replicas differ from [buffer] replicas is an error naming the stream and the difference."""
    JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW).close()
    with pytest.raises(BufferCorruptError, match="AUTHLOG.*replicas 1"):
        JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=3), clock=lambda: CONTRACT_NOW)


def test_forgetting_a_sink_deletes_its_consumer_for_the_fleet(nats_server: NatsCluster) -> None:
    """forget_sink deletes the consumer and counts what it had not settled; a member lacking a sink never deletes it."""
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a"), sink_policy("b")])
        buffer.append(stored_events(3))
        buffer.register_sinks([sink_policy("a")])  # a member whose config lacks b: b stays
        assert {row.name for row in buffer.sinks()} == {"a", "b"}
        assert buffer.forget_sink("b") == 3
        assert {row.name for row in buffer.sinks()} == {"a"}
    finally:
        buffer.close()


def test_a_member_that_closes_hands_back_what_it_held_at_once(nats_server: NatsCluster) -> None:
    """close() gives the events a member held back to the consumer: another member is handed them without waiting ack_wait."""
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, ack_wait=3600.0)  # never, within the test
    leaving, staying = JetStreamBuffer(config, clock=lambda: CONTRACT_NOW), JetStreamBuffer(config, clock=lambda: CONTRACT_NOW)
    try:
        leaving.register_sinks([sink_policy("a")])
        leaving.append(stored_events(3))
        held = scan_all(leaving.delivery_source("a"), "a", 3)
        leaving.close()
        assert [row.body for row in scan_all(staying.delivery_source("a"), "a", 3)] == [row.body for row in held]
    finally:
        leaving.close()
        staying.close()


def test_an_app_configured_with_a_fleet_config_only_publishes(nats_server: NatsCluster) -> None:
    """shippers.configure() with a jetstream config publishes to the stream and starts no delivery (the members deliver)."""
    import shippers

    member = Shipper.from_config(fleet_config(nats_server))
    member.buffer.register_sinks(member._policies())  # a member created the sink's consumer (not delivering here)
    member.close()
    shipper = shippers.configure(fleet_config(nats_server))
    try:
        shipper.emit("login.completed", userId="u-1")
        assert not shipper.delivering and shipper.workers == {}
        assert shipper.buffer.stats()["events"] == 1
    finally:
        shippers.shutdown()


def test_a_connection_opened_before_a_fork_is_refused_in_the_child(nats_server: NatsCluster) -> None:
    """A child forked after the buffer was opened gets BufferForkedError at once (the parent's loop thread is not in it)."""
    import os

    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a")])
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what an append raised, then leave without running the parent's cleanup
            try:
                buffer.append(stored_events(1))
                os.write(write, b"appended")
            except Exception as exc:
                os.write(write, type(exc).__name__.encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 100) == b"BufferForkedError"
        assert buffer.append(stored_events(1)) >= 1  # the parent's connection is unharmed
    finally:
        buffer.close()


def test_a_spool_takes_events_while_the_server_is_down_and_forwards_them_once_it_is_back(nats_server: NatsCluster, tmp_path) -> None:
    """With [buffer] spool, an append during an outage commits locally (no error); once the server is back the spooled events
    reach the stream, each once, and the spool empties."""
    config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1, emit_timeout=0.5, spool=str(tmp_path / "spool"))
    buffer = JetStreamBuffer(config, clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("a", start_at="oldest")])  # the delivering process: it forwards the spool
        buffer.append(stored_events(2))
        nats_server.kill("n1")
        buffer.append(stored_events(3, 2))  # spooled: durable on return
        assert buffer.spool is not None and buffer.spool.waiting() == 3
        nats_server.restart("n1")
        wait_for(lambda: buffer.spool.waiting() == 0, "the spool forwarded", deadline_seconds=30)
        rows = scan_all(buffer.delivery_source("a"), "a", 5)
        assert sorted(row.body for row in rows) == sorted(body for _, body in stored_events(5))
        assert buffer.fleet_status()["spool"] == {"waiting": 0, "forwarded": 3}
    finally:
        buffer.close()


def test_events_every_sink_settled_leave_the_stream_and_a_stream_without_sinks_refuses(nats_server: NatsCluster) -> None:
    """Interest retention: once every sink acknowledged an event it is gone (room for new ones); before any sink exists an
    append is refused, saying a member must start first (the stream would keep nothing)."""
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        with pytest.raises(BufferUnavailableError, match="no sink has a consumer"):
            buffer.append(stored_events(1))
        buffer.register_sinks([sink_policy("a"), sink_policy("b")])
        buffer.append(stored_events(3))
        for sink in ("a", "b"):
            source = buffer.delivery_source(sink)
            rows = scan_all(source, sink, 3)
            source.record_cut(sink, [], [], rows[-1].seq)  # done for this sink
            if sink == "a":
                assert buffer.stats()["events"] == 3  # b still needs them
        wait_for(lambda: buffer.stats()["events"] == 0, "the events gone once both sinks were done")
    finally:
        buffer.close()


def test_a_blocking_sink_past_its_max_backlog_refuses_appends_naming_it(nats_server: NatsCluster) -> None:
    """A sink with when_full = "block" and max_backlog: once the fleet is that far behind on it, appends raise BufferFullError
    naming the sink; nothing past the cap is stored."""
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("slow", max_backlog=20_000)])
        with pytest.raises(BufferFullError) as refused:
            for start in range(0, 2_000, 20):
                buffer.append(stored_events(20, start))
                buffer.backlogs.forget()  # read the figures at every append (they are cached for a second)
        assert refused.value.sink == "slow" and "max_backlog" in str(refused.value)
        assert buffer.stats()["bytes"] < 20_000 + 20 * 1_000
    finally:
        buffer.close()


def test_a_drop_oldest_sink_past_its_cap_acknowledges_its_oldest_events_without_sending_them(nats_server: NatsCluster) -> None:
    """A sink with when_full = "drop_oldest" over its max_backlog: the member delivering it drops the oldest events (counted),
    then is handed the newest ones."""
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        buffer.register_sinks([sink_policy("lossy", when_full="drop_oldest", max_backlog=10_000)])
        written = stored_events(100)
        buffer.append(written)
        buffer.backlogs.forget()  # the figures the append read are from before it (cached for a second)
        average = buffer.backlogs.average_bytes()
        source = buffer.delivery_source("lossy")
        kept = scan_all(source, "lossy", 1, limit=1000)
        dropped = source.counters.dropped
        assert dropped > 0 and dropped + len(kept) == 100
        assert (100 - dropped) * average <= 10_000 + average  # under the cap, give or take one event
        assert [row.body for row in kept] == [body for _, body in written[dropped:]]  # the oldest went
        assert [row.dropped for row in buffer.sinks() if row.name == "lossy"] == [dropped]
    finally:
        buffer.close()


def test_status_says_how_old_the_fleets_oldest_pending_event_is(nats_server: NatsCluster) -> None:
    """oldestPendingAgeSeconds on a fleet is the age of the consumer's oldest unsettled event (read by stream seq above its
    ack floor), whichever member holds it; none once the sink is done."""
    now = [time.time()]  # the sample events' times are near the real now: the validator compares them with this clock
    config = fleet_config(nats_server)
    config["sinks"]["mem"]["batch"] = {"max_events": 1000, "timeout": "1h"}  # nothing is cut while the test looks
    with Shipper.from_config(config, clock=lambda: now[0]) as shipper:
        shipper.buffer.register_sinks(shipper._policies())
        assert shipper.ingest_raw(items(3)).accepted == 3
        now[0] += 42.0
        assert shipper.status()["sinks"]["mem"]["oldestPendingAgeSeconds"] == 42.0
        source = shipper.buffer.delivery_source("mem")
        rows = scan_all(source, "mem", 3)
        source.record_cut("mem", [], [], rows[-1].seq)  # done with all three
        wait_for(lambda: shipper.status()["sinks"]["mem"]["oldestPendingAgeSeconds"] is None, "no pending event left")
