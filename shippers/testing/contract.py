"""The adapter contract suite: the rules of :mod:`adapters.contract`, as tests every adapter runs.

Subclass it in a test module and provide an ``adapter`` fixture (a constructed adapter)::

    from shippers.testing.contract import AdapterContract

    class TestMyAdapterContract(AdapterContract):
        @pytest.fixture
        def adapter(self):
            return MyAdapter(contract_context("my-sink"), MyConfig(...))

and an ``unreachable_adapter`` fixture (the same adapter pointed at a destination that cannot
be reached: a closed port, a path under a regular file) so the suite checks that ``send``
answers a transport failure with a retry Verdict instead of raising. Third-party
adapter authors can run the same suite against their plugin.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.contract import Adapter, BatchLimits, HardLimits, Request, SinkContext, Verdict
from shippers.catalog import builtin_catalog
from shippers.event import Event, EventValidator, decode_event_keys, encode_event

# A fixed "now" for every contract test: events are stamped a minute before it.
CONTRACT_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


def contract_context(name: str = "contract") -> SinkContext:
    """A SinkContext with the built-in catalog and a frozen clock."""
    return SinkContext(name, builtin_catalog(), lambda: CONTRACT_NOW)


def sample_events() -> list[Event]:
    """One fully populated event per catalog type and reason, and one bare event per type."""
    validator = EventValidator(builtin_catalog(), clock=lambda: CONTRACT_NOW)
    events: list[Event] = []
    for index, kind in enumerate(builtin_catalog()):
        for reason in [None, *kind.reasons]:
            fields: dict[str, Any] = {
                "id": f"contract-{kind.name}-{reason or 'none'}",
                "type": kind.name,
                "time": "2026-11-25T11:59:00.000Z",
                "tenantId": f"t-{index % 3}",
                "userId": f"u-{index}",
                "email": f"user{index}@example.com",
                "ip": "203.0.113.7" if index % 2 else "2001:db8::7",
                "userAgent": "Mozilla/5.0 (contract)",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "details": {"attempt": index, "nested": {"ok": True}},
            }
            if reason:
                fields["reason"] = reason
            events.append(validator.from_fields(fields))
        events.append(validator.from_fields({"type": kind.name, "id": f"bare-{kind.name}", "time": "2026-11-25T11:59:00Z"}))
    return events


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AdapterContract:
    """Every adapter passes these; see the module docstring for how to use them."""

    @pytest.fixture
    def adapter(self) -> Adapter:  # pragma: no cover - provided by subclasses
        raise NotImplementedError("provide an `adapter` fixture")

    @pytest.fixture
    def unreachable_adapter(self) -> Adapter:  # pragma: no cover - provided by subclasses
        raise NotImplementedError("provide an `unreachable_adapter` fixture")

    def test_declares_its_identity_and_limits(self, adapter: Adapter) -> None:
        """The adapter names itself, says what it does and declares batch defaults within its hard limits."""
        assert adapter.name and adapter.summary
        assert isinstance(adapter.batch_defaults, BatchLimits) and isinstance(adapter.hard_limits, HardLimits)
        assert adapter.batch_defaults.max_events <= adapter.hard_limits.max_events
        assert adapter.batch_defaults.max_bytes <= adapter.hard_limits.max_bytes
        assert adapter.batch_defaults.timeout > 0

    def test_the_attempt_timeout_is_resolved(self, adapter: Adapter) -> None:
        """The sink knows its per-attempt timeout (the core's), a positive number of seconds its transport applies."""
        assert adapter.context.attempt_timeout is not None and adapter.context.attempt_timeout > 0
        assert adapter.attempt_timeout == adapter.context.attempt_timeout

    def test_mapping_is_pure_and_deterministic(self, adapter: Adapter) -> None:
        """Mapping and encoding the same event twice gives identical bytes, for every catalog type and reason."""
        for event in sample_events():
            first = adapter.encode_item(adapter.map(event))
            second = adapter.encode_item(adapter.map(event))
            assert isinstance(first, bytes) and first == second, event.type

    def test_archive_line_flag_is_honest(self, adapter: Adapter) -> None:
        """An adapter that lets the core send stored bytes as they are really maps each event to its archive line."""
        if not adapter.archive_line:
            return
        for event in sample_events():
            assert adapter.encode_item(adapter.map(event)) == encode_event(event)

    def test_reads_event_keys_flag_is_honest(self, adapter: Adapter) -> None:
        """An adapter that lets the core decode only an event's keys partitions and checks the keys as the whole event."""
        if not adapter.reads_event_keys:
            return
        assert adapter.archive_line, "reads_event_keys is for archive-line sinks (the stored bytes are sent)"
        for event in sample_events():
            item = encode_event(event)
            keys = decode_event_keys(item)
            assert adapter.partition(keys) == adapter.partition(event), event.type  # type: ignore[arg-type]
            assert adapter.check_item(keys, item, CONTRACT_NOW) == adapter.check_item(event, item, CONTRACT_NOW)  # type: ignore[arg-type]

    def test_partition_and_key_are_deterministic(self, adapter: Adapter) -> None:
        """A re-cut after a crash finds the same partition and the same destination key."""
        for event in sample_events():
            partition = adapter.partition(event)
            assert partition == adapter.partition(event)
            assert adapter.object_key(partition, 1, 9) == adapter.object_key(partition, 1, 9)

    def test_every_sample_fits_the_item_limit(self, adapter: Adapter) -> None:
        """Ordinary events are not dead-lettered by check_item."""
        for event in sample_events():
            item = adapter.encode_item(adapter.map(event))
            assert adapter.check_item(event, item, CONTRACT_NOW) is None, event.type

    def test_oversized_item_is_refused_with_a_reason(self, adapter: Adapter) -> None:
        """An item over max_item_bytes gets a dead-letter reason instead of being sent."""
        event = sample_events()[0]
        oversized = b"x" * (adapter.hard_limits.max_item_bytes + 1)
        reason = adapter.check_item(event, oversized, CONTRACT_NOW)
        assert reason and "bytes" in reason

    def test_send_to_an_unreachable_destination_is_a_verdict(self, unreachable_adapter: Adapter) -> None:
        """A connection failure comes back as a retry Verdict, not an exception."""
        event = sample_events()[0]
        doc = unreachable_adapter.map(event)
        item = unreachable_adapter.encode_item(doc)
        partition = unreachable_adapter.partition(event)
        request = Request(1, "contract", partition, unreachable_adapter.object_key(partition, 1, 1), 1, 1, [event], [doc], [item])
        verdict = unreachable_adapter.send(request)
        assert isinstance(verdict, Verdict)
        assert verdict.kind == "retry", verdict
