"""The ``s3`` adapter: objects under Hive-style keys, written once with ``IfNoneMatch``.

Wiring only: :mod:`.mapping` (OCSF lines), :mod:`.layouts` (partition and body: hourly gzip
NDJSON, or Security Lake's OCSF Parquet), :mod:`.keys` (keys), :mod:`.transport` (one
PutObject), :mod:`.classify`.

``map`` returns the event itself for archive lines (the core then sends the stored bytes) and
an OCSF line already encoded: the core keeps every document of a batch (up to 100,000) until
it is settled, and one bytes object per line is never scanned by the garbage collector, where
a line as dicts is seven.

Delivery: the core records a batch's key (:meth:`S3Adapter.object_key`) before the first
attempt, so every retry and every resend after a crash PUTs the same bytes to the same
key; ``If-None-Match: *`` turns a repeat into a 412. A HeadObject then compares the
object's batch tag with ours: the same batch is a duplicate (acknowledged, counted apart);
another writer's batch at our key is a sink_error (see :func:`.classify.classify_existing`).
An event is thus in exactly one object, as long as the bucket keeps its objects (lifecycle
rules that expire them before a resend defeat the check). A batch recorded under an older
prefix or sink name goes to the current key unless it already landed at the recorded one.
"""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.contract import Adapter, Request, SinkContext, Verdict
from adapters.s3 import keys
from adapters.s3.classify import HEAD_DENIED_STATUS, HEAD_MISSING_STATUS, classify, classify_existing, holds_object
from adapters.s3.config import (
    BATCH_DEFAULTS,
    DEFAULT_REQUEST_TIMEOUT,
    HARD_LIMITS,
    MAX_KEY_BYTES,
    OCSF_FORMATS,
    PARQUET_BATCH_DEFAULTS,
    S3Config,
)
from adapters.s3.encoder import batch_tag
from adapters.s3.layouts import layout_for
from adapters.s3.mapping import to_ocsf
from adapters.s3.transport import BATCH_TAG_HEADER, S3Transport
from shippers.event import Event, encode_event

_encoder = msgspec.json.Encoder()


class S3Adapter(Adapter):
    name = "s3"
    summary = "objects in S3 (or a compatible store), Hive-style keys: archive or OCSF lines, or OCSF Parquet for Security Lake"
    Config = S3Config
    batch_defaults = BATCH_DEFAULTS
    hard_limits = HARD_LIMITS
    attempt_timeout_key = "request_timeout"
    default_attempt_timeout = DEFAULT_REQUEST_TIMEOUT
    secret_env = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")  # boto3's environment credentials

    def __init__(self, context: SinkContext, config: S3Config) -> None:
        super().__init__(context, config)
        self.config: S3Config = config
        self._ocsf = config.format in OCSF_FORMATS
        # An NDJSON sink's line is the archive line, which is the stored row as it is: the core sends the stored
        # bytes (no encode per event; the module docstring promised it, the class flag never said so).
        self.archive_line = not self._ocsf  # type: ignore[misc]  # a per-format value of a ClassVar
        # Its partition (UTC hour, tenant), checks and batch tag read only the keys (shippers.event.EventKeys).
        self.reads_event_keys = self.archive_line  # type: ignore[misc]
        self.layout = layout_for(config, context.catalog)
        if config.security_lake is not None:
            # Why: Security Lake wants objects at most every 5 minutes (see config.PARQUET_BATCH_DEFAULTS);
            # the core reads the defaults off the adapter it built, so this sink's instance carries its own.
            self.batch_defaults = PARQUET_BATCH_DEFAULTS  # type: ignore[misc]  # a per-format default of a ClassVar
        self._key_bytes = keys.fixed_key_bytes(config.prefix, context.name, context.store_id, self.layout.suffix)
        # The core asks check_item, then partition, of the same event: the partition is worked out once.
        self._last_partition: tuple[Event | None, str] = (None, "")
        self.transport = S3Transport(config, self.attempt_timeout)

    # -- pure ------------------------------------------------------------
    def map(self, event: Event) -> Event | bytes:
        if self._ocsf:
            return _encoder.encode(self.layout.row(to_ocsf(event, self.context.catalog[event.type], self.config.service_name)))
        return event

    def encode_item(self, document: Any) -> bytes:
        return document if isinstance(document, bytes) else encode_event(document)

    def check_item(self, event: Event, item: bytes, now: float) -> str | None:
        reason = super().check_item(event, item, now) or self.layout.unplaceable(event)
        if reason is not None:
            return reason
        length = self._key_bytes + len(self.partition(event).encode("utf-8"))
        if length > MAX_KEY_BYTES:
            return f"its S3 key would be {length} bytes (S3 allows {MAX_KEY_BYTES}); shorten the prefix or the sink name"
        return None

    def partition(self, event: Event) -> str:
        last, partition = self._last_partition
        if last is not event:
            partition = self.layout.partition(event)
            self._last_partition = (event, partition)
        return partition

    def object_key(self, partition: str, first_seq: int, last_seq: int) -> str:
        return keys.object_key(self.config.prefix, partition, first_seq, last_seq, self.context.name, self.context.store_id,
                               self.layout.suffix)

    # -- I/O ---------------------------------------------------------------
    def open(self) -> Verdict | None:
        self.transport.prepare()
        return None

    def send(self, request: Request) -> Verdict:
        key = self.object_key(request.partition, request.first_seq, request.last_seq)
        tag = batch_tag(event.id for event in request.events)
        if request.key is not None and request.key != key:
            moved = self._check_previous_key(request.key, tag)
            if moved is not None:
                return moved
        outcome = self.transport.put(key, self.layout.body(request.items), tag)
        verdict = classify(outcome, self.config, self.context.name, key, self.context.clock())
        if verdict.kind == "duplicate":  # is it our batch, or another writer's at the same key?
            head = self.transport.head(key)
            verdict = classify_existing(head, tag, self.config, self.context.name, key, self.context.clock())
        return verdict

    def _check_previous_key(self, previous: str, tag: str) -> Verdict | None:
        """The prefix or sink name changed since the batch was cut (e.g. to end a key collision).

        If the batch already landed at the key recorded with it, it is a duplicate; otherwise
        (absent, another writer's, unreadable) it goes to the key of the current settings.
        """
        head = self.transport.head(previous)
        now = self.context.clock()
        if holds_object(head):
            if head.headers.get(BATCH_TAG_HEADER) == tag:
                return Verdict.duplicate(f"s3://{self.config.bucket}/{previous} (the key before a settings change) holds this batch")
            return None
        if head.answered and head.status in (HEAD_DENIED_STATUS, HEAD_MISSING_STATUS):
            return None
        return classify(head, self.config, self.context.name, previous, now)

    def close(self) -> None:
        self.transport.close()
