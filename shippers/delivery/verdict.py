"""The classification of one attempt, as the core acts on it: a :class:`Verdict` (DESIGN.md "Outcomes").

Adapters name these types through :mod:`adapters.contract`; the core's classifier
(:mod:`shippers.delivery.classify`) and the worker build and read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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
