"""The pure settle: every Verdict kind, per-item mixtures included, becomes what the store and the sink must do, without a store."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from delivery_rows import mapped, mapper

from adapters.contract import ItemResult, Verdict
from shippers.buffer.records import BatchRecord
from shippers.config import PiiConfig
from shippers.delivery.settle import Settlement, settle
from shippers.pii import SinkPii

BATCH = BatchRecord(7, "keyed", "t-1", "t-1/1-5", (1, 2, 3, 4, 5))


def settled(verdict: Verdict, n: int = 5, pii: SinkPii | None = None) -> Settlement:
    items = mapped(*range(1, n + 1), pii=pii)
    return settle(BATCH, items, verdict, mapper(pii), mapper().adapter.object_key)


@dataclass(frozen=True)
class Case:
    name: str
    verdict: Verdict
    store: str
    counts: tuple[int, int]  # (delivered, duplicates)
    dead: list[tuple[int, str]]  # (seq, code)
    again: list[int]
    failed: str | None  # the failure's kind (None: no failure)
    succeeded: bool
    retry_after: float | None


def per_item(*outcomes: tuple[str, float | None]) -> Verdict:
    return Verdict.per_item([ItemResult(o, f"item said {o}", ra) for o, ra in outcomes])  # type: ignore[arg-type]


CASES = [
    Case("delivered", Verdict.delivered(), "settle", (5, 0), [], [], None, True, None),
    Case("duplicate", Verdict.duplicate(), "settle", (0, 5), [], [], None, True, None),
    Case("retry", Verdict.retry("503 busy", 30.0), "nothing", (0, 0), [], [1, 2, 3, 4, 5], "retry", False, 30.0),
    Case("sink error", Verdict.sink_error("403: check the API key"), "nothing", (0, 0), [], [1, 2, 3, 4, 5], "sink_error", False, None),
    Case("reject", Verdict.reject("400 mapping conflict"), "settle", (0, 0),
         [(s, "request_rejected") for s in range(1, 6)], [], None, False, None),
    Case("per item: a mixture", per_item(("delivered", None), ("duplicate", None), ("retry", 5.0), ("reject", None), ("retry", 10.0)),
         "settle", (1, 1), [(4, "rejected_by_destination")], [3, 5], "retry", False, 10.0),
    Case("per item: retries without a hint", per_item(("retry", None), ("delivered", None), ("delivered", None), ("delivered", None),
                                                       ("retry", None)), "settle", (3, 0), [], [1, 5], "retry", False, None),
    Case("per item: all done", per_item(("delivered", None), ("duplicate", None), ("reject", None), ("delivered", None), ("duplicate", None)),
         "settle", (2, 2), [(3, "rejected_by_destination")], [], None, True, None),
    Case("per item: all rejected", per_item(*[("reject", None)] * 5), "settle", (0, 0),
         [(s, "rejected_by_destination") for s in range(1, 6)], [], None, True, None),
    Case("per item: too few results", per_item(("delivered", None), ("delivered", None)), "nothing", (0, 0), [], [1, 2, 3, 4, 5],
         "retry", False, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_verdict_settles_as(case: Case) -> None:
    """Each verdict asks the store for one write (or none) and tells the sink what happened: counts, dead letters, what stays, how long to wait."""
    result = settled(case.verdict)
    assert result.store == case.store
    assert (result.delivered, result.duplicates) == case.counts
    assert [(d.seq, d.code) for d in result.dead] == case.dead
    assert result.remaining == case.again
    assert (result.failed.kind if result.failed else None) == case.failed
    assert result.succeeded == case.succeeded
    assert result.retry_after == case.retry_after
    assert not result.parts


def test_a_per_item_mixture_names_the_items_left_and_the_first_reason() -> None:
    """The failure of a per-item answer says how many items are retried and why; each rejected item keeps its own reason."""
    result = settled(per_item(("delivered", None), ("retry", 5.0), ("reject", None), ("retry", 1.0), ("delivered", None)))
    assert result.failed is not None and result.failed.reason == "2 items to retry: item said retry"
    [dead] = result.dead
    assert dead.reason == "item said reject"


def test_too_few_per_item_results_say_so() -> None:
    """An adapter that classified fewer items than it was sent gets the whole request retried, with the counts in the reason."""
    result = settled(per_item(("delivered", None)), n=3)
    assert result.failed is not None and "classified 1 items of a 3-item request" in result.failed.reason


def test_a_split_records_two_keyed_halves() -> None:
    """A too-large batch of five becomes halves of two and three events, each keyed by its own first and last seq."""
    result = settled(Verdict.split("413 too large"))
    assert result.store == "split" and not result.dead and not result.again
    assert [(p.key, [m.row.seq for m in p.items]) for p in result.parts] == [("t-1/1-2", [1, 2]), ("t-1/3-5", [3, 4, 5])]


def test_a_single_item_too_large_is_dead_lettered() -> None:
    """A batch of one the destination still finds too large goes to the DLQ as too_large, with the destination's reason."""
    result = settled(Verdict.split("413 too large"), n=1)
    assert result.store == "settle" and not result.parts
    [dead] = result.dead
    assert (dead.seq, dead.code) == (1, "too_large") and "413 too large" in dead.reason


def test_a_rejected_request_dead_letters_the_sinks_view() -> None:
    """Dead letters of a rejected request hold the events with the sink's PII policy applied, never the raw email."""
    result = settled(Verdict.reject("400 bad"), pii=SinkPii(PiiConfig(email="mask")))
    assert result.dead and all(b"ana@example.com" not in d.body for d in result.dead)
    assert all(d.pii is not None for d in result.dead)
