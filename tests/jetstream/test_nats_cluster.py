"""The test harness itself: a real 3-node JetStream cluster on loopback that tests can break and mend."""

from __future__ import annotations

import asyncio
import uuid

import nats
from nats.js.api import StreamConfig

from shippers.testing.nats_cluster import NatsCluster

# Why: a leader elected on a loaded 2-core machine may take a few seconds to take writes: 15 tries of 2 s.
PUBLISH_TRIES = 15


async def _publish_and_count(urls: list[str], stream: str, replicas: int, publish: int) -> int:
    client = await nats.connect(servers=urls, connect_timeout=2, max_reconnect_attempts=5)
    try:
        js = client.jetstream(timeout=10)
        try:
            await _until_answered(lambda: js.stream_info(stream))
        except nats.js.errors.NotFoundError:
            await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"], num_replicas=replicas))
        for index in range(publish):
            await _publish_until_acknowledged(js, f"{stream}.x", b"%d" % index)
        return (await _until_answered(lambda: js.stream_info(stream))).state.messages
    finally:
        await client.close()


async def _until_answered(request):  # type: ignore[no-untyped-def]
    """A read of the stream, asked again while a just-elected leader does not answer yet (a loaded machine); bounded."""
    for _ in range(PUBLISH_TRIES - 1):
        try:
            return await request()
        except (nats.errors.TimeoutError, TimeoutError):
            continue
    return await request()


async def _publish_until_acknowledged(js, subject: str, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    """Publish, trying again while a just-elected leader does not answer yet (a loaded machine); bounded. The message id
    makes a try whose ack was lost count once."""
    headers = {"Nats-Msg-Id": uuid.uuid4().hex}  # one per message, the same for each of its tries
    for _ in range(PUBLISH_TRIES - 1):
        try:
            await js.publish(subject, payload, timeout=2, headers=headers)
            return
        except nats.errors.TimeoutError:
            continue
    await js.publish(subject, payload, timeout=2, headers=headers)


def test_cluster_elects_a_new_stream_leader_after_kill_and_keeps_the_data(nats_cluster: NatsCluster) -> None:
    """An R3 stream survives SIGKILL of its leader: another node leads, acknowledged messages stay, the node rejoins."""
    assert nats_cluster.meta_leader() in nats_cluster.nodes
    assert asyncio.run(_publish_and_count(nats_cluster.urls, "T", 3, 5)) == 5
    leader = nats_cluster.wait_for_stream_leader("T")
    nats_cluster.kill(leader)
    assert not nats_cluster.nodes[leader].running
    survivor = nats_cluster.wait_for_stream_leader("T", other_than=leader)
    assert survivor != leader
    assert asyncio.run(_publish_and_count([n.url for n in nats_cluster.nodes.values() if n.running], "T", 3, 1)) == 6
    nats_cluster.restart(leader)
    assert nats_cluster.nodes[leader].running
    nats_cluster.wait_for_meta_leader()


def test_single_server_runs_jetstream(nats_server: NatsCluster) -> None:
    """The one-node helper serves JetStream (an R1 stream takes messages) and leads its own streams."""
    assert asyncio.run(_publish_and_count(nats_server.urls, "S", 1, 3)) == 3
    assert nats_server.stream_leader("S") == "n1"


def test_stop_ends_every_node(tmp_path) -> None:
    """stop() leaves no server process behind."""
    cluster = NatsCluster(tmp_path, size=3).start()
    processes = [node.process for node in cluster.nodes.values()]
    cluster.stop()
    assert all(process is not None and process.poll() is not None for process in processes)
