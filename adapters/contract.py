"""The adapter contract: the small, typed surface between the core and one destination.

An adapter is a plugin (entry-point group ``authlog.adapters``; the name is the sink
``type``). It supplies only what is specific to its destination; the core
(:mod:`shippers.worker`, :mod:`shippers.delivery`) owns batching, retry and backoff, the DLQ,
metrics, shutdown, the per-attempt timeout, the generic classification and secret redaction::

    canonical Event ──(core: route filter, PII policy)──> adapter.map(event)   -> document
                                                          adapter.encode_item  -> bytes (sized)
                                                          adapter.check_item   -> dead-letter reason | None
                                                          adapter.partition    -> batch key
    core: batch by max_events / max_bytes / timeout within hard_limits, one partition per batch,
          record the batch in the store (with adapter.object_key) *before* sending
    adapter.send(request)  ── ONE attempt: encode the request, call the destination (its transport
                              returns a shippers.delivery.attempt.Attempt), classify it with
                              shippers.delivery.classify.classify(attempt, vendor_rules, ...) ──> Verdict
    core: every reason redacted, folded and cut (on the way out of open/send, by this base class)
    core: act on the Verdict (ack / retry with backoff / per-item / split / DLQ / sink failing)

Rules an adapter follows (the contract test suite in ``shippers/testing/contract.py``
holds every adapter to them):

- ``map``, ``encode_item``, ``check_item``, ``partition`` and ``object_key`` are pure and
  deterministic: after a crash the core re-cuts a recorded batch by calling them again and
  must get the same request (same ids, same S3 key).
- ``send`` makes exactly one attempt. It never sleeps and never retries (turn the SDK's own
  retries off); it never raises for a destination answer: every answer and every transport
  error becomes an ``Attempt`` and then a :class:`Verdict`. Unexpected exceptions are treated
  by the core as ``retry``, with the exception text (redacted) as reason.
- Classification is the core's: status classes (3xx, 408/429/5xx, 413, 401/403, other 4xx),
  Retry-After, failures without an answer. The adapter's ``VendorRules`` add only its vendor's
  own part: how to read a success, its own codes, what to fix. No adapter parses Retry-After
  or names a generic status (``tests/test_adapter_shape.py`` checks).
- The per-attempt timeout is the core's: ``self.context.attempt_timeout`` (seconds), resolved
  once when the adapter is built: the core's override in the SinkContext, else the value of the
  adapter's ``attempt_timeout_key`` config key (``request_timeout``, the user's setting), else
  ``default_attempt_timeout``. The transport applies it to every SDK call (connect and read).
- A request never exceeds ``hard_limits``; items larger than ``max_item_bytes`` are
  dead-lettered by ``check_item`` before a request is built.
- Secrets never appear in a Verdict reason: whatever ``open`` and ``send`` return passes the
  sink's :class:`~shippers.redact.Redactor`, which knows the config's secrets (keys
  named like ``*key``, ``*token``, ``password``; URL user info), the environment variables
  named in ``secret_env``, and anything shaped like an Authorization or api-key value. An
  adapter holding a secret elsewhere adds it with ``self.redactor.add(value)``. Log lines
  are the adapter's own: never put a secret in one.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import msgspec

from shippers.catalog import Catalog
from shippers.event import Event, encode_event
from shippers.redact import Redactor, secrets_in

ItemOutcome = Literal["delivered", "duplicate", "retry", "reject"]
VerdictKind = Literal["delivered", "duplicate", "retry", "per_item", "split", "reject", "sink_error"]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What the destination said about one item of a request."""

    outcome: ItemOutcome
    reason: str = ""
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of one attempt (DESIGN.md "Outcomes").

    - ``delivered`` / ``duplicate``: the whole request is at the destination (ack).
    - ``retry``: send the whole request again after a backoff (``retry_after`` honoured).
    - ``per_item``: ``items`` holds one :class:`ItemResult` per request item, in order:
      delivered and duplicate items are acked, ``retry`` items are resent alone
      (DESIGN's ``retry_items``), ``reject`` items go to the DLQ (``reject_item``).
    - ``split``: too large; the core halves the request and sends both halves.
    - ``reject``: no item of this request can ever be accepted: all go to the DLQ with ``reason``.
    - ``sink_error``: the sink is misconfigured or unauthorised: keep every event, mark the
      sink failing with ``reason`` (what to fix), retry with a long backoff.
    """

    kind: VerdictKind
    reason: str = ""
    retry_after: float | None = None
    items: tuple[ItemResult, ...] = ()

    @classmethod
    def delivered(cls) -> Verdict:
        return cls("delivered")

    @classmethod
    def duplicate(cls, reason: str = "already at the destination") -> Verdict:
        return cls("duplicate", reason)

    @classmethod
    def retry(cls, reason: str, retry_after: float | None = None) -> Verdict:
        return cls("retry", reason, retry_after)

    @classmethod
    def per_item(cls, items: Sequence[ItemResult]) -> Verdict:
        return cls("per_item", items=tuple(items))

    @classmethod
    def split(cls, reason: str) -> Verdict:
        return cls("split", reason)

    @classmethod
    def reject(cls, reason: str) -> Verdict:
        return cls("reject", reason)

    @classmethod
    def sink_error(cls, reason: str, retry_after: float | None = None) -> Verdict:
        return cls("sink_error", reason, retry_after)


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """When the core cuts a batch: whichever comes first (overridable per sink in ``[sinks.X.batch]``)."""

    max_events: int
    max_bytes: int
    timeout: float  # seconds the oldest waiting event may wait


@dataclass(frozen=True, slots=True)
class HardLimits:
    """What the destination accepts at most; the core never exceeds these, whatever the config says."""

    max_events: int  # items per request
    max_bytes: int  # sum of encode_item() sizes per request
    max_item_bytes: int  # one encoded item; larger ones are dead-lettered


@dataclass(frozen=True, slots=True)
class Request:
    """One batch as the adapter sends it. ``docs[i]`` / ``items[i]`` / ``events[i]`` describe the same event."""

    batch_id: int
    sink: str
    partition: str
    key: str | None  # the destination key recorded when the batch was cut (S3), else None
    first_seq: int
    last_seq: int
    events: Sequence[Event]
    docs: Sequence[Any]
    items: Sequence[bytes]

    @property
    def size(self) -> int:
        return sum(len(i) for i in self.items)


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What the core tells an adapter about the sink it serves."""

    name: str
    catalog: Catalog
    clock: Callable[[], float]  # seconds since the epoch; injected so tests control time
    # A random id made when the buffer was created: buffer seqs restart at 1 in a new buffer, so
    # destination keys built from seqs (S3) add it to stay unique across instances and rebuilds.
    store_id: str = ""
    # For durations (token lifetimes): unlike ``clock`` it never steps when the wall clock is set.
    monotonic: Callable[[], float] = time.monotonic
    # Seconds one attempt may take (connect + answer), applied by the transport to its SDK call.
    # None when the core builds the context: Adapter.__init__ resolves it (see the module docstring).
    attempt_timeout: float | None = None


class NoConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The config of an adapter that takes no keys of its own."""


class Adapter(ABC):
    """Base class of every destination adapter; see the module docstring for the rules."""

    name: ClassVar[str]  # the sink `type` in the config
    summary: ClassVar[str]  # one line for `authlog adapters`
    Config: ClassVar[type[msgspec.Struct]] = NoConfig  # adapter keys (forbid_unknown_fields=True)
    batch_defaults: ClassVar[BatchLimits]
    hard_limits: ClassVar[HardLimits]
    # True when map() returns the event itself and encode_item() its archive line: the core then
    # sends the stored bytes as they are (no decode-map-encode round trip on the hot path).
    archive_line: ClassVar[bool] = False
    # True (with archive_line) when check_item, partition and send read only an event's id, type, time and
    # tenantId: a sink without a PII policy then decodes just those (shippers.event.EventKeys) instead of the
    # whole event, and holds them until the batch settles (S3 NDJSON: up to 100k per batch). The contract
    # suite checks that check_item and partition say the same of the keys as of the event.
    reads_event_keys: ClassVar[bool] = False
    # The config key users set the per-attempt timeout with (None: the adapter has none) and the
    # timeout when it is not set. Why 30 s: far above a healthy request (tens of ms) and the order of
    # magnitude of the SDKs' own defaults; it only cuts off a stuck connection, the core retries.
    attempt_timeout_key: ClassVar[str | None] = None
    default_attempt_timeout: ClassVar[float] = 30.0
    # Environment variables holding this sink's secrets (the SDK reads them; no config key does).
    secret_env: ClassVar[tuple[str, ...]] = ()
    # Requests in flight at once when the sink's config does not say (``concurrency``). Two lets the
    # core cut and encode the next batch while one waits for its answer (deliverer.py): over a
    # network the wait is most of a send.
    default_concurrency: ClassVar[int] = 2

    def __init__(self, context: SinkContext, config: Any) -> None:
        key = self.attempt_timeout_key
        timeout = resolve_attempt_timeout(context.attempt_timeout, getattr(config, key, None) if key else None,
                                          self.default_attempt_timeout)
        self.context = context if context.attempt_timeout == timeout else dataclasses.replace(context, attempt_timeout=timeout)
        self.config = config
        # Built here, on the thread that builds the sink, not on its first send: no lock to hold
        # across a fork, no work added to the first attempt. Add a secret held elsewhere with
        # ``self.redactor.add(value)``.
        self.redactor = Redactor(secrets_in(config), self.secret_env)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every ``open`` and ``send`` an adapter defines hands its Verdict through :meth:`finished`."""
        super().__init_subclass__(**kwargs)
        for name in ("open", "send"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_finishes_verdicts", False):
                setattr(cls, name, _finishing(method))

    # -- pure ------------------------------------------------------------
    @abstractmethod
    def map(self, event: Event) -> Any:
        """The destination document for one canonical event (the adapter's mapping module)."""

    def encode_item(self, document: Any) -> bytes:
        """The document as the bytes the request will carry; its length is what batches count."""
        if isinstance(document, Event):
            return encode_event(document)
        return msgspec.json.encode(document)

    def check_item(self, event: Event, item: bytes, now: float) -> str | None:
        """A reason to dead-letter this item instead of sending it (too large, outside the time window)."""
        if len(item) > self.hard_limits.max_item_bytes:
            return f"item is {len(item)} bytes; {self.name} accepts at most {self.hard_limits.max_item_bytes} per item"
        return None

    def partition(self, event: Event) -> str:
        """Events of different partitions never share a batch (S3: UTC hour and tenant)."""
        return ""

    def object_key(self, partition: str, first_seq: int, last_seq: int) -> str | None:
        """The destination key fixed when the batch is cut, so a resend targets the same object."""
        return None

    # -- I/O ---------------------------------------------------------------
    def open(self) -> Verdict | None:
        """Prepare the destination (index templates...). Return a sink_error Verdict to report a problem."""
        return None

    @abstractmethod
    def send(self, request: Request) -> Verdict:
        """Exactly one attempt at delivering ``request``; every outcome is a Verdict."""

    def close(self) -> None:  # noqa: B027 - optional hook: adapters without resources need not override it
        """Release clients and connections."""

    def warnings(self) -> dict[str, int]:
        """Counts of things delivered but worth a look (e.g. entries the destination may discard),
        by a short camelCase name; shown under the sink's ``warnings`` in ``/v1/status``."""
        return {}

    @property
    def attempt_timeout(self) -> float:
        """Seconds one attempt may take: what the transport gives its SDK call (see the module docstring)."""
        return self.context.attempt_timeout or self.default_attempt_timeout

    # -- reasons (the core's) ------------------------------------------------
    def redact(self, text: str) -> str:
        """``text`` (e.g. an exception's message the core turns into a reason) redacted, folded and cut."""
        return self.redactor.clean(text)

    def finished(self, verdict: Verdict) -> Verdict:
        """``verdict`` with every reason redacted, folded and cut; the same object when nothing changed."""
        clean = self.redactor.clean
        reason = clean(verdict.reason)
        items = verdict.items
        if items:
            cleaned = {text: clean(text) for text in {item.reason for item in items}}
            if any(before != after for before, after in cleaned.items()):
                items = tuple(
                    ItemResult(i.outcome, cleaned[i.reason], i.retry_after) if cleaned[i.reason] != i.reason else i
                    for i in items
                )
        if reason == verdict.reason and items is verdict.items:
            return verdict
        return Verdict(verdict.kind, reason, verdict.retry_after, items)


def resolve_attempt_timeout(override: float | None, configured: object, default: float) -> float:
    """A sink's per-attempt timeout in seconds: the core's override, else the adapter's key, else its default.

    ``configured`` is the value of the adapter's timeout key (``request_timeout``), or None when
    the adapter has none; a value that is not a positive number falls back to ``default``.
    """
    for value in (override, configured):
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return default


def _finishing(method: Callable[..., Verdict | None]) -> Callable[..., Verdict | None]:
    """``method`` (an adapter's open or send) with its Verdict passed through ``Adapter.finished``."""

    @functools.wraps(method)
    def finishing(self: Adapter, *args: Any, **kwargs: Any) -> Verdict | None:
        verdict = method(self, *args, **kwargs)
        return None if verdict is None else self.finished(verdict)

    finishing._finishes_verdicts = True  # type: ignore[attr-defined]  # marks a method already wrapped
    return finishing


@dataclass
class AdapterInfo:
    """An installed adapter plugin, as `authlog adapters` lists it."""

    name: str
    cls: type[Adapter]
    origin: str  # the distribution that registered it
