"""The settle, pure: a batch and the Verdict of one attempt -> what the store and the sink must do, as a value.

No store, no thread, no clock: the deliverer executes the :class:`Settlement` (one store
transaction, then the sink-wide pause and the status), the retry policy picks the wait. Per kind::

    delivered / duplicate  settle: count them all, the batch is done           the sink is active
    per_item               settle: count delivered and duplicate items, dead-letter rejected ones,
                           keep only the retry items recorded                   retrying (if any left)
    reject                 settle: every item to the DLQ (request_rejected)    unchanged
    split                  split: two keyed halves replace the batch;
                           a single item is dead-lettered (too_large)          unchanged
    retry / sink_error     nothing stored: the whole batch again after a backoff, paused sink-wide
                           for a Retry-After                                    retrying / failing
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from adapters.contract import Verdict
from shippers.buffer.records import BatchRecord, DeadItem
from shippers.delivery.codes import CODE_REJECTED, CODE_REQUEST_REJECTED, CODE_TOO_LARGE
from shippers.delivery.cut import CutBatch, KeyFor, halves
from shippers.delivery.mapping import Mapped, RowMapper


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one attempt asks of the store (``store``) and of the sink (``failed``, ``succeeded``, ``retry_after``)."""

    store: Literal["settle", "split", "nothing"]  # Buffer.settle / Buffer.replace_batch / no write
    delivered: int = 0
    duplicates: int = 0
    dead: Sequence[DeadItem] = ()
    again: Sequence[Mapped] = ()  # the items still to send: kept recorded (settle) or the whole batch (nothing)
    parts: Sequence[CutBatch] = ()  # split: the halves recorded instead of the batch
    failed: Verdict | None = None  # the attempt failed: the sink is retrying (failing for a sink_error) with this reason
    succeeded: bool = False  # the destination took the request: the sink is active
    retry_after: float | None = None  # the destination's "not before": the sink pauses, the backoff waits at least this

    @property
    def remaining(self) -> list[int]:
        """The seqs kept recorded for the next attempt."""
        return [m.row.seq for m in self.again]


def settle(batch: BatchRecord, items: Sequence[Mapped], verdict: Verdict, mapper: RowMapper, key_for: KeyFor) -> Settlement:
    """What to do after ``verdict`` answered the request of ``batch`` carrying ``items`` (see the module docstring)."""
    kind = verdict.kind
    if kind == "delivered":
        return Settlement("settle", delivered=len(items), succeeded=True)
    if kind == "duplicate":
        return Settlement("settle", duplicates=len(items), succeeded=True)
    if kind == "per_item":
        return _per_item(items, verdict, mapper)
    if kind == "reject":
        return Settlement("settle", dead=[mapper.dead_letter(m.row, CODE_REQUEST_REJECTED, verdict.reason, m) for m in items])
    if kind == "split":
        if len(items) == 1:
            return Settlement("settle", dead=[mapper.dead_letter(items[0].row, CODE_TOO_LARGE, f"too large even alone: {verdict.reason}", items[0])])
        return Settlement("split", parts=halves(batch.partition, list(items), key_for))
    return Settlement("nothing", again=items, failed=verdict, retry_after=verdict.retry_after)  # retry | sink_error


def _per_item(items: Sequence[Mapped], verdict: Verdict, mapper: RowMapper) -> Settlement:
    if len(verdict.items) != len(items):  # an adapter bug: nothing can be told apart, so the whole request again
        return Settlement("nothing", again=items, failed=Verdict.retry(
            f"the adapter classified {len(verdict.items)} items of a {len(items)}-item request"))
    delivered = duplicates = 0
    dead: list[DeadItem] = []
    again: list[Mapped] = []
    retry_after = 0.0
    reason = ""
    for mapped, item in zip(items, verdict.items, strict=True):
        outcome = item.outcome
        if outcome == "delivered":
            delivered += 1
        elif outcome == "duplicate":
            duplicates += 1
        elif outcome == "reject":
            dead.append(mapper.dead_letter(mapped.row, CODE_REJECTED, item.reason, mapped))
        else:
            again.append(mapped)
            reason = reason or item.reason
            retry_after = max(retry_after, item.retry_after or 0.0)  # the longest wait any retry item was told
    if not again:
        return Settlement("settle", delivered=delivered, duplicates=duplicates, dead=dead, succeeded=True)
    return Settlement("settle", delivered=delivered, duplicates=duplicates, dead=dead, again=again,
                      failed=Verdict.retry(f"{len(again)} items to retry: {reason}"), retry_after=retry_after or None)
