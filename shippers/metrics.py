"""Prometheus metrics (``authlog_*``), one registry per :class:`~shippers.shipper.Shipper`.

Labels carry only closed sets: sink names (from the config), event types and outcomes (from
the catalog), dead-letter codes (``shippers.delivery.codes``), rejection reasons
(:class:`~shippers.errors.Rejection`), refusal reasons (``REFUSALS``, ``REQUEST_REFUSALS``) and enrichment look-ups
(``shippers.enrichment.enricher.LOOKUPS``). Never producer text (a tenant, user, email, IP, field
name or value) and never a destination's answer: those go in 4xx answers and the DLQ (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from shippers.errors import BufferFullError, BufferUnavailableError, Rejection

_REASONS = frozenset(r.value for r in Rejection)
# Why a valid event was not stored (authlog_events_refused_total{reason}): a when_full = "block" sink at
# its cap, the store at [buffer] max_bytes or its disk full, the store not taking writes at all.
REFUSALS = ("sink_full", "store_full", "store_unavailable")
# Why the sidecar answered POST /v1/events with a 503 (authlog_ingest_requests_refused_total{reason}):
# the refusals above, shutdown, or request bodies filling the memory budget.
REQUEST_REFUSALS = (*REFUSALS, "shutting_down", "busy")
# The sidecar's routes as request-duration labels (authlog_http_request_duration_seconds{route}); any other
# path is "other", so a scanner probing random URLs never makes a new series.
ROUTES = ("/v1/events", "/v1/status", "/v1/dlq", "/healthz", "/readyz", "/metrics", "/")
# Why: an ingest request is a commit (ms) up to a 10 MiB body validated and fsynced (seconds); these
# buckets split "fast", "slow disk" and "producers about to time out" (the client's default is 10 s).
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def refusal_reason(exc: BaseException) -> str:
    """The refusal reason of a store error (one of REFUSALS)."""
    if isinstance(exc, BufferFullError) and not isinstance(exc, BufferUnavailableError):  # an unreachable cluster is both
        return "sink_full" if exc.sink else "store_full"
    return "store_unavailable"


class Metrics:
    """Every metric the shipper exports; a fresh registry so several shippers can coexist (tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter("authlog_events_received", "Events accepted into the buffer.", ["type", "outcome"], registry=r)
        # (type, outcome) -> its child of `received`: labels() takes a lock and checks the labels, ~1 µs a call,
        # and every commit counts ~7 of them (emit() from 8 threads commits ~13k groups per 100k events).
        self._received_by_kind: dict[tuple[str, str], Any] = {}
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
        self.delivery_restarts = Counter(
            "authlog_delivery_process_restarts", "Times the delivery process of this sink ended unexpectedly or could not start "
            "([delivery] processes; each is started again after a backoff).", ["sink"], registry=r,
        )
        self.lag = Gauge("authlog_sink_lag_events", "Events in the buffer this sink has not finished.", ["sink"], registry=r)
        self.up = Gauge("authlog_sink_up", "1 when the sink's last attempt succeeded or it is idle, else 0.", ["sink"], registry=r)
        self.buffer_bytes = Gauge("authlog_buffer_bytes", "Bytes held by the durable buffer (events and dead letters).", registry=r)
        self.buffer_events = Gauge("authlog_buffer_events", "Events held by the durable buffer.", registry=r)
        self.buffer_max_bytes = Gauge("authlog_buffer_max_bytes", "The store's limit ([buffer] max_bytes), in bytes.", registry=r)
        self.dlq_events = Gauge(
            "authlog_sink_dlq_events", "Dead letters the sink's DLQ holds now (falls after dlq replay or purge).", ["sink"], registry=r,
        )
        self.oldest_pending_age = Gauge(
            "authlog_sink_oldest_pending_age_seconds",
            "Seconds since the store accepted the oldest event the sink has not finished (0 when it has none).", ["sink"], registry=r,
        )
        self.request_duration = Histogram(
            "authlog_http_request_duration_seconds", "Time the sidecar took to answer a request, by route and status class.",
            ["route", "code"], buckets=REQUEST_BUCKETS, registry=r,
        )
        self.store_errors = Counter(
            "authlog_store_errors", "Store operations the disk or file system refused, by kind (disk_full, read_only, io_error, locked...).",
            ["kind"], registry=r,
        )

        self.fleet_pending = Gauge("authlog_fleet_pending_events", "JetStream: events no member was handed yet, per sink (fleet-wide).",
                                   ["sink"], registry=r)
        self.fleet_unacknowledged = Gauge("authlog_fleet_unacknowledged_events",
                                          "JetStream: events handed to members and not settled yet, per sink (fleet-wide).", ["sink"], registry=r)
        self.fleet_redelivered = Gauge("authlog_fleet_redelivered_events",
                                       "JetStream: unsettled events handed out more than once (a member died or was slow), per sink.",
                                       ["sink"], registry=r)
        self.fleet_members = Gauge("authlog_fleet_members", "JetStream: members with a recent heartbeat.", registry=r)
        self.ingest_duplicates = Counter(
            "authlog_ingest_duplicates", "Accepted events the store already held by event id (a producer's resend; JetStream).", registry=r,
        )
        self.refused = Counter(
            "authlog_events_refused", "Valid events the store refused (nothing stored), by reason (a closed set).", ["reason"], registry=r,
        )
        for reason in REFUSALS:
            self.refused.labels(reason)
        self.requests_refused = Counter(
            "authlog_ingest_requests_refused", "POST /v1/events requests answered 503, by reason (a closed set).", ["reason"], registry=r,
        )
        for reason in REQUEST_REFUSALS:
            self.requests_refused.labels(reason)
        self.enrichment_failures = Counter(
            "authlog_enrichment_failures", "Events stored without enrichment because a look-up raised, by the look-up "
            "(geo, asn, user_agent; a damaged database).", ["lookup"], registry=r,
        )
        self._enrichment_lookups: tuple[str, ...] = ()

    def observe_backlog(self, sink: str, *, dlq_events: int, oldest_age: float | None) -> None:
        """Set the sink's DLQ size and the age of its oldest pending event (None: nothing pending, shown as 0)."""
        self.dlq_events.labels(sink).set(dlq_events)
        self.oldest_pending_age.labels(sink).set(oldest_age or 0.0)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        """Count one answered request; ``path`` outside ROUTES is "other", ``status`` by class ("2xx"...)."""
        route = path if path in ROUTES else "other"
        self.request_duration.labels(route, f"{status // 100}xx").observe(seconds)

    def count_received(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Count committed events by (type, outcome) (catalog names: a closed set, so the cache stays small)."""
        children = self._received_by_kind
        for kind, n in counts.items():
            child = children.get(kind)
            if child is None:  # two threads may both look it up: labels() gives both the same child
                child = children[kind] = self.received.labels(*kind)
            child.inc(n)

    def count_refused(self, reason: str, n: int = 1) -> None:
        """Count ``n`` events the store refused (``reason`` from :func:`refusal_reason`)."""
        self.refused.labels(reason if reason in REFUSALS else "store_unavailable").inc(n)

    def note_fleet(self, fleet: dict[str, Any]) -> None:
        """The fleet figures of a status (JetStream): members, and per sink pending, unacknowledged, redelivered."""
        self.fleet_members.set(len(fleet.get("members", [])))
        for sink, figures in fleet.get("sinks", {}).items():
            self.fleet_pending.labels(sink).set(figures.get("pending", 0))
            self.fleet_unacknowledged.labels(sink).set(figures.get("unacknowledged", 0))
            self.fleet_redelivered.labels(sink).set(figures.get("redelivered", 0))

    def count_duplicates(self, n: int) -> None:
        """Count ``n`` accepted events the store already held (acknowledged as duplicates)."""
        self.ingest_duplicates.inc(n)

    def count_refused_request(self, reason: str) -> None:
        """Count one ingest request answered 503 (``reason`` one of REQUEST_REFUSALS)."""
        self.requests_refused.labels(reason if reason in REQUEST_REFUSALS else "store_unavailable").inc()

    def refusals(self) -> dict[str, dict[str, int]]:
        """What status shows: refused events and 503'd requests by reason, since this process started."""
        def read(name: str, reasons: tuple[str, ...]) -> dict[str, int]:
            return {r: int(self.registry.get_sample_value(name, {"reason": r}) or 0) for r in reasons}

        return {"events": read("authlog_events_refused_total", REFUSALS),
                "requests": read("authlog_ingest_requests_refused_total", REQUEST_REFUSALS)}

    def track_enrichment(self, lookups: tuple[str, ...]) -> None:
        """Export the failures of these look-ups (the enricher's) from 0: a first failure between two scrapes shows as a step."""
        self._enrichment_lookups = lookups
        for lookup in lookups:
            self.enrichment_failures.labels(lookup)

    def count_enrichment_failure(self, lookup: str, n: int = 1) -> None:
        """Count ``n`` failed look-ups of ``lookup``; one this process does not track is ignored, never a new series."""
        if lookup in self._enrichment_lookups:
            self.enrichment_failures.labels(lookup).inc(n)

    def enrichment_failure_counts(self) -> dict[str, int]:
        """What status shows: failed look-ups by the look-up, since this process started (empty without enrichment)."""
        return {lookup: int(self.registry.get_sample_value("authlog_enrichment_failures_total", {"lookup": lookup}) or 0)
                for lookup in self._enrichment_lookups}

    def delivery_restarts_of(self, sink: str) -> int:
        """Times ``sink``'s delivery process ended unexpectedly or could not start, since this process started."""
        return int(self.registry.get_sample_value("authlog_delivery_process_restarts_total", {"sink": sink}) or 0)

    def count_rejected(self, reason: str, n: int = 1) -> None:
        """Count ``n`` rejections; a value outside :class:`Rejection` is counted as ``invalid``, never as a new series."""
        label = reason if reason in _REASONS else Rejection.INVALID.value
        self.rejected.labels(label).inc(n)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
