"""The adapter contract: the small, typed surface between the core and one destination.

An adapter is a plugin (entry-point group ``authlog.adapters``; the name is the sink
``type``). It supplies only what is specific to its destination; the core
(:mod:`shippers.worker`) owns batching, retry and backoff, the DLQ, metrics and shutdown::

    canonical Event ──(core: route filter, PII policy)──> adapter.map(event)   -> document
                                                          adapter.encode_item  -> bytes (sized)
                                                          adapter.check_item   -> dead-letter reason | None
                                                          adapter.partition    -> batch key
    core: batch by max_events / max_bytes / timeout within hard_limits, one partition per batch,
          record the batch in the store (with adapter.object_key) *before* sending
    adapter.send(request)  ── ONE attempt: encode the request, call the destination, classify ──> Verdict
    core: act on the Verdict (ack / retry with backoff / per-item / split / DLQ / sink failing)

Rules an adapter follows (the contract test suite in ``tests/adapters/contract_suite.py``
holds every adapter to them):

- ``map``, ``encode_item``, ``check_item``, ``partition`` and ``object_key`` are pure and
  deterministic: after a crash the core re-cuts a recorded batch by calling them again and
  must get the same request (same ids, same S3 key).
- ``send`` makes exactly one attempt. It never sleeps and never retries (turn the SDK's own
  retries off); it never raises for a destination answer: every answer and every transport
  error becomes a :class:`Verdict`. Unexpected exceptions are treated by the core as
  ``retry``, with the exception text as reason.
- A request never exceeds ``hard_limits``; items larger than ``max_item_bytes`` are
  dead-lettered by ``check_item`` before a request is built.
- Secrets (API keys, passwords) never appear in a Verdict reason or a log line.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import msgspec

from shippers.catalog import Catalog
from shippers.event import Event, encode_event

ItemOutcome = Literal["delivered", "duplicate", "retry", "reject"]
VerdictKind = Literal["delivered", "duplicate", "retry", "per_item", "split", "reject", "sink_error"]


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
    # Requests in flight at once when the sink's config does not say (``concurrency``). Two lets the
    # core cut and encode the next batch while one waits for its answer (deliverer.py): over a
    # network the wait is most of a send.
    default_concurrency: ClassVar[int] = 2

    def __init__(self, context: SinkContext, config: Any) -> None:
        self.context = context
        self.config = config

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


@dataclass
class AdapterInfo:
    """An installed adapter plugin, as `authlog adapters` lists it."""

    name: str
    cls: type[Adapter]
    origin: str  # the distribution that registered it
