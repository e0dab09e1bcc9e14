"""The JetStream buffer keeps the delivery contract every store keeps, against a real server (shippers.testing.source_contract)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import CONTRACT_NOW
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import DeliveryContract, OpenStore


class TestJetStreamDeliveryContract(DeliveryContract):
    @pytest.fixture
    def open_store(self, nats_server: NatsCluster) -> Iterator[OpenStore]:
        handles: list[JetStreamBuffer] = []

        def open_store() -> JetStreamBuffer:
            config = BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1)
            handles.append(JetStreamBuffer(config, clock=lambda: CONTRACT_NOW))
            return handles[-1]

        yield open_store
        for handle in handles:
            handle.close()
