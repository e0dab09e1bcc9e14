"""Prometheus metrics (``authlog_*``), one registry per :class:`~shippers.shipper.Shipper`.

Labels carry only closed sets: sink names (from the config), event types and outcomes (from
the catalog), dead-letter codes (``shippers.batcher.CODE_*``) and rejection reasons
(:class:`~shippers.errors.Rejection`). Never producer text (a tenant, user, email, IP, field
name or value) and never a destination's answer: those go in 4xx answers and the DLQ (DESIGN.md).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from shippers.errors import Rejection

_REASONS = frozenset(r.value for r in Rejection)


class Metrics:
    """Every metric the shipper exports; a fresh registry so several shippers can coexist (tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter("authlog_events_received", "Events accepted into the buffer.", ["type", "outcome"], registry=r)
        self.rejected = Counter("authlog_events_rejected", "Events rejected at ingest, by reason (a closed set).", ["reason"], registry=r)
        for reason in Rejection:
            self.rejected.labels(reason.value)  # every reason exported from the start (0), and no others
        self.delivered = Counter("authlog_sink_delivered", "Events a destination accepted.", ["sink"], registry=r)
        self.duplicates = Counter("authlog_sink_duplicates", "Events a destination already had (409, 412).", ["sink"], registry=r)
        self.retries = Counter("authlog_sink_retries", "Attempts that will be retried.", ["sink"], registry=r)
        self.dead_lettered = Counter("authlog_sink_dead_lettered", "Events sent to the sink's DLQ.", ["sink", "reason"], registry=r)
        self.dropped = Counter("authlog_sink_dropped", "Events dropped by when_full = drop_oldest.", ["sink"], registry=r)
        self.events_dropped = Counter(
            "authlog_events_dropped", "Events dropped on purpose outside when_full, by reason (sink_removed: `authlog sinks forget`).",
            ["reason"], registry=r,
        )
        self.lag = Gauge("authlog_sink_lag_events", "Events in the buffer this sink has not finished.", ["sink"], registry=r)
        self.up = Gauge("authlog_sink_up", "1 when the sink's last attempt succeeded or it is idle, else 0.", ["sink"], registry=r)
        self.buffer_bytes = Gauge("authlog_buffer_bytes", "Bytes held by the durable buffer (events and dead letters).", registry=r)
        self.buffer_events = Gauge("authlog_buffer_events", "Events held by the durable buffer.", registry=r)
        self.store_errors = Counter(
            "authlog_store_errors", "Store operations the disk or file system refused, by kind (disk_full, read_only, io_error, locked...).",
            ["kind"], registry=r,
        )

    def count_rejected(self, reason: str, n: int = 1) -> None:
        """Count ``n`` rejections; a value outside :class:`Rejection` is counted as ``invalid``, never as a new series."""
        label = reason if reason in _REASONS else Rejection.INVALID.value
        self.rejected.labels(label).inc(n)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
