"""The ``elasticsearch`` sink: ECS documents into Elasticsearch or OpenSearch with ``_bulk`` ``create``.

Wiring only: :mod:`.mapping` builds the document, :mod:`.encoder` the bulk lines,
:mod:`.transport` makes the one attempt, :mod:`.classify` reads the answer.

Index setup: ``open()`` installs the index template (``setup = true``, the default). If
that fails, ``open()`` reports a sink_error and every ``send()`` tries the template again
before writing, so no document is written before its mappings exist (a data stream or an
index created without them would keep the wrong mappings). Setup is idempotent (PUT
replaces the template with the same content).

Delivery is at-least-once, made idempotent by ``create`` with ``_id`` = event id: a resend
answers 409 for what already landed, counted as a duplicate. That dedup does not hold
across a data stream's rollover (a new backing index does not know older ids), so we do
not promise exactly-once.
"""

from __future__ import annotations

import threading

from adapters.contract import Adapter, Request, SinkContext, Verdict
from adapters.elasticsearch import encoder
from adapters.elasticsearch.classify import classify_bulk, classify_setup
from adapters.elasticsearch.config import BATCH_DEFAULTS, DEFAULT_REQUEST_TIMEOUT, HARD_LIMITS, ElasticsearchConfig
from adapters.elasticsearch.index_template import index_template, template_name
from adapters.elasticsearch.mapping import EcsMapping
from adapters.elasticsearch.transport import BulkTransport, make_transport
from shippers.event import Event


class ElasticsearchAdapter(Adapter):
    name = "elasticsearch"
    summary = "ECS documents into Elasticsearch or OpenSearch (_bulk create, _id = event id)"
    Config = ElasticsearchConfig
    batch_defaults = BATCH_DEFAULTS
    hard_limits = HARD_LIMITS
    attempt_timeout_key = "request_timeout"
    default_attempt_timeout = DEFAULT_REQUEST_TIMEOUT
    secret_env = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")  # what aws_sigv4 signs with

    def __init__(self, context: SinkContext, config: ElasticsearchConfig) -> None:
        super().__init__(context, config)
        self.config: ElasticsearchConfig = config
        self._transport: BulkTransport | None = None
        self._setup_done = not config.setup
        self._setup_lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._encode_item = encoder.item_encoder(config.target)
        self._document = EcsMapping(config.dataset, config.labels).document

    # -- pure ------------------------------------------------------------
    def map(self, event: Event) -> bytes:
        """The event's two ``_bulk`` lines (action and ECS source), encoded at once.

        Bytes, not the document: the core holds every document of a batch until it settles, and bytes
        cost the garbage collector nothing. The document is :class:`.mapping.EcsMapping`'s Structs
        (:mod:`.document`), encoded once and dropped (:func:`.mapping.to_ecs` is the same as a dict).
        """
        return self._encode_item(self._document(event, self.context.catalog.get(event.type)))

    def encode_item(self, document: bytes) -> bytes:
        return document

    # -- I/O ---------------------------------------------------------------
    def _client(self) -> BulkTransport | Verdict:
        """The transport, built on first use; a client that cannot be built is a sink_error."""
        with self._client_lock:  # with concurrency > 1 several threads send at once
            if self._transport is None:
                try:
                    self._transport = make_transport(self.config, self.attempt_timeout)
                except (ValueError, TypeError, OSError) as exc:  # bad CA file, URL, cloud_id the config check missed
                    return Verdict.sink_error(
                        f"cannot create the {self.config.flavor} client: {exc}; check this sink's keys"
                    )
            return self._transport

    def open(self) -> Verdict | None:
        # sink_error for what a person must fix (privileges, TLS, flavor); retry when the
        # cluster is merely unreachable, so the core tries again soon rather than after retry.max.
        return self._ensure_setup()

    def send(self, request: Request) -> Verdict:
        verdict = self._ensure_setup()
        if verdict is None:
            client = self._client()
            if isinstance(client, Verdict):
                return client
            answer = client.bulk(encoder.bulk_body(request.items))
            verdict = classify_bulk(answer, len(request.items), self.context.clock(), self.config.target)
        return verdict

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- helpers -----------------------------------------------------------
    def _ensure_setup(self) -> Verdict | None:
        """Install the index template once; None when it is (or need not be) in place."""
        if self._setup_done:
            return None
        with self._setup_lock:
            if self._setup_done:
                return None
            client = self._client()
            if isinstance(client, Verdict):
                return client
            target = self.config.target
            body = index_template(target, data_stream=self.config.is_data_stream, flavor=self.config.flavor)
            answer = client.put_index_template(template_name(target), body)
            verdict = classify_setup(answer, target, self.context.clock())
            self._setup_done = verdict is None
            return verdict
