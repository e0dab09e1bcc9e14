"""Producer text in the NATS headers that carry an event's routing columns: a member reads back exactly what the producer
sent (the tenant a route filters on), whatever it holds, and it never adds a header (a PII tag)."""

from __future__ import annotations

import pytest

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import CONTRACT_NOW, sink_policy, stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import scan_all

TENANTS = ["t-acme\r\nAuthlog-Pii: raw\r\n\r\nNats-Msg-Id: x", " t-acme ", "t-Müller: ünïcode ✓", '"quoted"', "t-plain"]


@pytest.fixture
def buffer(nats_server: NatsCluster):  # type: ignore[no-untyped-def]
    opened = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    opened.register_sinks([sink_policy("a")])
    yield opened
    opened.close()


def _events() -> list:  # type: ignore[type-arg]
    return [pair for index, tenant in enumerate(TENANTS) for pair in stored_events(1, index, tenantId=tenant)]


def test_a_member_reads_each_tenant_back_as_sent_and_no_added_header(buffer: JetStreamBuffer) -> None:
    """Tenants with CR/LF, a blank line, padding or non-ASCII text are fetched by a sink as sent, with no PII tag."""
    buffer.append(_events())
    rows = scan_all(buffer.delivery_source("a"), "a", len(TENANTS))
    assert [(row.tenant, row.pii) for row in rows] == [(tenant, None) for tenant in TENANTS]


def test_a_tool_reading_the_stream_sees_each_tenant_as_sent(buffer: JetStreamBuffer) -> None:
    """The stream read by its own seqs (dlq and status tools) gives the same tenants as the sink's fetch."""
    buffer.append(_events())
    assert [row.tenant for row in buffer.scan(0, 10)] == TENANTS
