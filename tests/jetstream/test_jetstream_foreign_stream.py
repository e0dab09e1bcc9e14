"""A stream or consumer made by another tool (nats stream add, an operator's IaC) under the fleet's names: a setting that
would lose acknowledged events, or break the duplicate window the README promises, is refused at start, by name."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.errors import BufferCorruptError
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy
from shippers.testing.nats_cluster import NatsCluster


def _make(url: str, stream: StreamConfig, consumer: ConsumerConfig | None = None) -> None:
    async def make() -> None:
        client = await nats.connect(url)
        js = client.jetstream()
        await js.add_stream(stream)
        if consumer is not None:
            await js.add_consumer(stream.name or "", consumer)
        await client.close()

    asyncio.run(make())


def _fleet_stream(**changes: object) -> StreamConfig:
    values: dict[str, object] = {
        "name": "AUTHLOG", "subjects": ["authlog.AUTHLOG.>"], "retention": RetentionPolicy.INTEREST, "storage": StorageType.FILE,
        "num_replicas": 1, "discard": DiscardPolicy.NEW, "max_bytes": 10 * 1024**3, **changes}
    return StreamConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "named"), [
    ({"max_age": 3600.0}, "max_age"),
    ({"max_msgs_per_subject": 1000}, "max_msgs_per_subject"),
    ({"storage": StorageType.MEMORY}, "storage"),
    ({"duplicate_window": 5.0}, "duplicate_window"),
])
def test_a_stream_that_would_drop_or_double_acknowledged_events_is_refused(nats_server: NatsCluster, changes: dict[str, object],
                                                                           named: str) -> None:
    """A present events stream that expires, caps per subject, lives in memory or has a shorter duplicate window is refused naming it."""
    _make(nats_server.urls[0], _fleet_stream(**changes))
    with pytest.raises(BufferCorruptError, match=f"AUTHLOG.*{named}"):
        JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)


def test_a_sink_consumer_made_without_explicit_acks_is_refused(nats_server: NatsCluster) -> None:
    """A durable of the sink's name that acknowledges on delivery (ack none) would lose a member's batch: register_sinks refuses it."""
    _make(nats_server.urls[0], _fleet_stream(),
          ConsumerConfig(durable_name="a", ack_policy=AckPolicy.NONE, filter_subjects=["authlog.AUTHLOG.all", "authlog.AUTHLOG.only.a"]))
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    try:
        with pytest.raises(BufferCorruptError, match="'a'.*ack_policy"):
            buffer.register_sinks([sink_policy("a")])
    finally:
        buffer.close()
