"""The ``s3`` adapter: gzip NDJSON objects under Hive-style keys, written once with ``IfNoneMatch``.

Wiring only: :mod:`.mapping` (OCSF lines), :mod:`.keys` (partition and key),
:mod:`.encoder` (gzip body), :mod:`.transport` (one PutObject), :mod:`.classify`.

Delivery: the core records a batch's key (:meth:`S3Adapter.object_key`) before the first
attempt, so every retry and every resend after a crash PUTs the same bytes to the same
key; ``If-None-Match: *`` turns a repeat into a 412, counted as a duplicate. An object
therefore holds each event once, and an event is in exactly one object, as long as the
bucket keeps its objects (lifecycle rules that expire them early defeat the check).
"""

from __future__ import annotations

from typing import Any

from adapters.contract import Adapter, Request, SinkContext, Verdict
from adapters.s3 import keys
from adapters.s3.classify import classify
from adapters.s3.config import BATCH_DEFAULTS, HARD_LIMITS, MAX_KEY_BYTES, S3Config
from adapters.s3.encoder import encode_body
from adapters.s3.mapping import to_ocsf
from adapters.s3.transport import S3Transport
from shippers.event import Event


class S3Adapter(Adapter):
    name = "s3"
    summary = "gzip NDJSON objects in S3 (or a compatible store), Hive-style keys, archive or OCSF lines"
    Config = S3Config
    batch_defaults = BATCH_DEFAULTS
    hard_limits = HARD_LIMITS

    def __init__(self, context: SinkContext, config: S3Config) -> None:
        super().__init__(context, config)
        self.config: S3Config = config
        self._by_tenant = "tenant" in config.partition_by
        self.transport = S3Transport(config)

    # -- pure ------------------------------------------------------------
    def map(self, event: Event) -> Any:
        if self.config.format == "ocsf":
            return to_ocsf(event, self.context.catalog[event.type], self.config.service_name)
        return event

    def check_item(self, event: Event, item: bytes, now: float) -> str | None:
        reason = super().check_item(event, item, now)
        if reason is not None:
            return reason
        length = keys.key_bytes(self.config.prefix, self.partition(event), self.context.name)
        if length > MAX_KEY_BYTES:
            return f"its S3 key would be {length} bytes (S3 allows {MAX_KEY_BYTES}); shorten the tenantId or the prefix"
        return None

    def partition(self, event: Event) -> str:
        return keys.partition_of(event, self._by_tenant)

    def object_key(self, partition: str, first_seq: int, last_seq: int) -> str:
        return keys.object_key(self.config.prefix, partition, first_seq, last_seq, self.context.name)

    # -- I/O ---------------------------------------------------------------
    def send(self, request: Request) -> Verdict:
        key = request.key or self.object_key(request.partition, request.first_seq, request.last_seq)
        outcome = self.transport.put(key, encode_body(request.items))
        return classify(outcome, self.config, self.context.name, key, self.context.clock())

    def close(self) -> None:
        self.transport.close()
