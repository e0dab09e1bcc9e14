"""The ``datadog`` sink: wires config, mapping, encoder, transport and classifier into the adapter contract.

Per event (pure): ``map`` -> the Datadog log (:mod:`mapping`) as the exact bytes it occupies
in the request body (:mod:`encoder`; ``encode_item`` passes them on), ``check_item`` ->
dead-letter a log over 1 MB or an event outside Datadog's 18 h past / 2 h future window,
because Datadog would silently truncate or drop it. Per batch (I/O): ``send`` re-checks the time window against the
injected clock (a batch that waited out a long outage may have aged past 18 h: those logs
are dead-lettered, the rest sent), posts the encoded logs as one gzipped request through the
SDK's client (:mod:`transport`) and classifies the answer.

``map`` returns bytes rather than the log itself because the core keeps every document of a
batch until the batch is settled: one bytes object per log is never scanned by the garbage
collector, six nested dicts per log were (measured in ``bench/bench_datadog.py``: 0.4 CPU s per
100k events). The log is built as untracked Structs and encoded at once (``DatadogMapping.encoded``).

Delivery is at-least-once and Datadog has no de-duplication: a batch resent after a lost
202 (timeout, crash before the ack) appears twice in Datadog. ``evt.id`` carries the event
id so duplicates can be recognised in queries.
"""

from __future__ import annotations

import os
import socket

from adapters.contract import Adapter, ItemResult, Request, SinkContext, Verdict
from adapters.datadog.classify import classify
from adapters.datadog.config import (
    API_KEY_ENV,
    BATCH_DEFAULTS,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    HARD_LIMITS,
    MAX_FUTURE_SECONDS,
    MAX_PAST_SECONDS,
    DatadogConfig,
    intake_url,
)
from adapters.datadog.encoder import outside_window, over_limits, too_large
from adapters.datadog.mapping import DatadogMapping, MappingSettings
from adapters.datadog.transport import DatadogTransport
from shippers.errors import ConfigError
from shippers.event import Event
from shippers.time_text import TextWindow


class DatadogAdapter(Adapter):
    name = "datadog"
    summary = "Datadog Logs (v2 intake) with Datadog's standard attributes, ready for Cloud SIEM"
    Config = DatadogConfig
    batch_defaults = BATCH_DEFAULTS
    hard_limits = HARD_LIMITS
    attempt_timeout_key = "request_timeout"
    default_attempt_timeout = DEFAULT_REQUEST_TIMEOUT_SECONDS
    secret_env = (API_KEY_ENV,)

    def __init__(self, context: SinkContext, config: DatadogConfig) -> None:
        super().__init__(context, config)
        unknown = sorted(t for t in config.status_by_type if t not in context.catalog)
        if unknown:
            raise ConfigError(
                [
                    f"sinks.{context.name}.status_by_type.{t}: unknown event type"
                    + (f" (did you mean '{context.catalog.closest(t)}'?)" if context.catalog.closest(t) else "")
                    for t in unknown
                ]
            )
        self.settings = settings = MappingSettings(
            service=config.service,
            source=config.source,
            hostname=config.hostname or socket.gethostname(),  # resolved once: map() stays pure
            env=config.env,
            tags=tuple(config.tags),
            status_by_type=dict(config.status_by_type),
        )
        self._mapping = DatadogMapping(settings, context.catalog)
        self.intake = intake_url(config)
        api_key = config.api_key or os.environ.get(API_KEY_ENV, "").strip() or None  # e.g. "KEY\n" from a file
        self._transport = DatadogTransport(self.intake, api_key, self.attempt_timeout) if api_key else None

    # -- pure ----------------------------------------------------------------
    def map(self, event: Event) -> bytes:
        return self._mapping.encoded(event)

    def encode_item(self, document: bytes) -> bytes:
        return document

    def check_item(self, event: Event, item: bytes, now: float) -> str | None:
        return too_large(item) or outside_window(self._mapping.epoch_ms(event), now)

    # -- I/O -----------------------------------------------------------------
    def _no_key(self) -> Verdict:
        return Verdict.sink_error(
            f"no Datadog API key: set sinks.{self.context.name}.api_key (e.g. \"${{{API_KEY_ENV}}}\") "
            f"or export {API_KEY_ENV}; events are kept"
        )

    def open(self) -> Verdict | None:
        return self._no_key() if self._transport is None else None

    def send(self, request: Request) -> Verdict:
        if self._transport is None:
            return self._no_key()
        now = self.context.clock()
        window = TextWindow(now - MAX_PAST_SECONDS, now + MAX_FUTURE_SECONDS)  # most times: no parse (time_text)
        stale = [None if window.surely_inside(event.time) else outside_window(event.epoch_ms, now) for event in request.events]
        fresh = [i for i, reason in enumerate(stale) if reason is None]
        if not fresh:
            return Verdict.per_item([ItemResult("reject", reason or "") for reason in stale])
        items = [request.items[i] for i in fresh]
        problem = over_limits(items)
        if problem is not None:  # only if the core's batch limits were bypassed: never send a 413
            return Verdict.split(problem)
        attempt = self._transport.submit(items)
        verdict = classify(attempt, now=now, item_count=len(items), intake=self.intake)
        if len(fresh) == len(stale) or verdict.kind != "delivered":
            return verdict
        return Verdict.per_item(
            [ItemResult("delivered") if reason is None else ItemResult("reject", reason) for reason in stale]
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
