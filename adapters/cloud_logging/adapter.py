"""The ``cloud_logging`` adapter: wires config, mapping, encoder, transport and classifier together.

``map`` returns the LogEntry already encoded (compact JSON, :func:`~adapters.cloud_logging.encoder.encode_entry`)
and ``encode_item`` passes it on: the core keeps every document of a batch until it is settled,
and one bytes object per entry is never scanned by the garbage collector. The entry is built as
msgspec Structs (:mod:`~adapters.cloud_logging.entry`) with its fixed parts already encoded, so
no dict is made per entry.

Delivery is at-least-once; a resend carries the same ``insertId`` (the event id) and the same
``timestamp``, which Cloud Logging treats as the same entry (deduplicated at query time).
Entries that could never be written are dead-lettered before a request is built
(:meth:`CloudLoggingAdapter.check_item`): over 256 KiB, or more than a day in the future.
Entries older than the default 30-day retention are sent (a bucket may keep them longer),
counted in :attr:`CloudLoggingAdapter.stale_entries` (``warnings.olderThanRetention`` in
``/v1/status``) and logged as a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from adapters.cloud_logging.classify import SinkFacts, classify
from adapters.cloud_logging.config import (
    BATCH_DEFAULTS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETENTION_SECONDS,
    HARD_LIMITS,
    MAX_ENTRY_BYTES,
    MAX_FUTURE_SECONDS,
    CloudLoggingConfig,
)
from adapters.cloud_logging.encoder import RequestTooLarge, encode_entry, encode_request
from adapters.cloud_logging.mapping import EntryTemplate, log_entry
from adapters.cloud_logging.transport import CloudLoggingTransport
from adapters.contract import Adapter, Request, SinkContext, Verdict
from shippers.errors import ConfigError
from shippers.event import Event
from shippers.time_text import TextWindow

log = logging.getLogger(__name__)


class CloudLoggingAdapter(Adapter):
    name = "cloud_logging"
    summary = "LogEntries to Google Cloud Logging (entries.write with partial success; insertId = event id)"
    Config = CloudLoggingConfig
    batch_defaults = BATCH_DEFAULTS
    hard_limits = HARD_LIMITS
    attempt_timeout_key = "request_timeout"
    default_attempt_timeout = DEFAULT_REQUEST_TIMEOUT

    def __init__(self, context: SinkContext, config: CloudLoggingConfig) -> None:
        super().__init__(context, config)
        unknown = [t for t in config.severity_by_type if t not in context.catalog]
        if unknown:
            raise ConfigError(
                [
                    f"sinks.{context.name}.severity_by_type.{t}: unknown event type"
                    + (f" (did you mean '{hint}'?)" if (hint := context.catalog.closest(t)) else "")
                    for t in unknown
                ]
            )
        self.template = EntryTemplate.build(config, context.catalog)
        self.facts = SinkFacts(sink=context.name, project=config.project, endpoint=config.endpoint)
        self.transport = CloudLoggingTransport(config, context.monotonic, self.attempt_timeout)
        self.stale_entries = 0  # entries sent older than the default retention (may be dropped by Cloud Logging)
        self._ahead: tuple[float, TextWindow] = (math.nan, TextWindow(None, None))  # (now, its window): one per cut

    def _ahead_window(self, now: float) -> TextWindow:
        """Times surely less than MAX_FUTURE_SECONDS ahead of ``now`` (made once per cut: every check of a cut has its now)."""
        at, window = self._ahead  # one tuple, replaced whole: threads see a pair that belongs together
        if at != now:
            window = TextWindow(None, now + MAX_FUTURE_SECONDS)
            self._ahead = (now, window)
        return window

    # -- pure ------------------------------------------------------------------
    def map(self, event: Event) -> bytes:
        return encode_entry(log_entry(event, self.template))

    def encode_item(self, document: bytes) -> bytes:
        return document

    def check_item(self, event: Event, item: bytes, now: float) -> str | None:
        if len(item) > MAX_ENTRY_BYTES:
            return f"LogEntry is {len(item)} bytes; Cloud Logging accepts at most {MAX_ENTRY_BYTES} bytes (256 KiB) per entry"
        if self._ahead_window(now).surely_inside(event.time):  # most times: no parse (shippers.time_text)
            return None
        ahead = event.timestamp.timestamp() - now
        if ahead > MAX_FUTURE_SECONDS:
            return (
                f"timestamp {event.time} is {ahead / 3600:.1f} h in the future; Cloud Logging rejects entries "
                "more than 1 day ahead (check the producer's clock)"
            )
        return None

    # -- I/O -------------------------------------------------------------------
    def open(self) -> Verdict | None:
        problem = self.transport.connect()
        if problem is None:
            return None
        verdict = classify(problem, 0, self.context.clock(), self.facts)
        return verdict if verdict.kind == "sink_error" else Verdict.sink_error(verdict.reason)

    def send(self, request: Request) -> Verdict:
        count = len(request.items)
        try:
            body = encode_request(request.items)
        except RequestTooLarge as exc:
            return Verdict.split(str(exc)) if count > 1 else Verdict.reject(str(exc))
        now = self.context.clock()
        self._note_stale(request.events, now)
        answer = self.transport.write(body)
        return classify(answer, count, now, self.facts)

    def close(self) -> None:
        self.transport.close()

    def warnings(self) -> dict[str, int]:
        return {"olderThanRetention": self.stale_entries} if self.stale_entries else {}

    def _note_stale(self, events: Sequence[Event], now: float) -> None:
        cutoff = now - DEFAULT_RETENTION_SECONDS
        window = TextWindow(cutoff, None)  # most times: no parse (shippers.time_text)
        stale = sum(1 for e in events if not window.surely_inside(e.time) and e.timestamp.timestamp() < cutoff)
        if stale:
            self.stale_entries += stale
            log.warning(
                "sink %s: %d entries are older than 30 days; Cloud Logging drops them unless the log bucket keeps "
                "logs longer", self.context.name, stale,
            )
