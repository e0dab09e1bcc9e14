"""The pure cut: rows in -> keyed batches within the limits, and the dead letters of rows that cannot go, without a store."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from delivery_rows import NOW, UNDECODABLE, mapper, row

from shippers.buffer.records import NewBatch, StoredRow
from shippers.delivery.cut import Limits, cut, halves

WIDE = Limits(max_events=100, max_bytes=1 << 20)


@dataclass(frozen=True)
class Case:
    name: str
    rows: list[StoredRow]
    limits: Limits
    batches: list[tuple[str, str, list[int]]]  # (partition, key, seqs)
    dead: list[tuple[int, str]]  # (seq, code)


CASES = [
    Case("nothing", [], WIDE, [], []),
    Case("one partition", [row(1), row(2), row(3)], WIDE, [("t-1", "t-1/1-3", [1, 2, 3])], []),
    Case("two tenants interleaved", [row(1, "a"), row(2, "b"), row(3, "a"), row(4, "b"), row(5, "a")], WIDE,
         [("a", "a/1-5", [1, 3, 5]), ("b", "b/2-4", [2, 4])], []),
    Case("split by events", [row(s) for s in range(1, 6)], Limits(2, 1 << 20),
         [("t-1", "t-1/1-2", [1, 2]), ("t-1", "t-1/3-4", [3, 4]), ("t-1", "t-1/5-5", [5])], []),
    Case("split by bytes", [row(1), row(2), row(3)], Limits(100, 130),  # items of 63 bytes: two fit
         [("t-1", "t-1/1-2", [1, 2]), ("t-1", "t-1/3-3", [3])], []),
    Case("an item over max_item_bytes", [row(1), row(2, pad=400), row(3)], WIDE,
         [("t-1", "t-1/1-3", [1, 3])], [(2, "invalid_for_destination")]),
    Case("an undecodable row", [row(1), row(2, body=UNDECODABLE)], WIDE,
         [("t-1", "t-1/1-1", [1])], [(2, "undecodable")]),
    Case("the adapter raising", [row(1, "boom"), row(2)], WIDE,
         [("t-1", "t-1/2-2", [2])], [(1, "invalid_for_destination")]),
    Case("only dead letters", [row(1, body=UNDECODABLE)], WIDE, [], [(1, "undecodable")]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_cut_makes_these_batches_and_dead_letters(case: Case) -> None:
    """Each row lands in exactly one keyed batch of its partition, in seq order within the limits, or in the dead letters."""
    made = cut(case.rows, mapper(), case.limits, NOW)
    assert [(b.partition, b.key, [m.row.seq for m in b.items]) for b in made.batches] == case.batches
    assert [(d.seq, d.code) for d in made.dead] == case.dead
    assert [b.recorded_as() for b in made.batches] == [NewBatch(p, k, s) for p, k, s in case.batches]


def test_a_dead_letter_says_why_and_keeps_an_undecodable_body_as_stored() -> None:
    """The adapter's error and the item check are in the reasons; an undecodable row keeps its bytes, tagged so no view shows them."""
    made = cut([row(1, "boom"), row(2, pad=400), row(3, body=UNDECODABLE)], mapper(), WIDE, NOW)
    raised, too_big, undecodable = made.dead
    assert "bad tenant" in raised.reason
    assert "at most 300 per item" in too_big.reason
    assert (undecodable.body, undecodable.pii) == (UNDECODABLE, "undecodable")


def test_an_item_over_max_bytes_is_cut_alone() -> None:
    """An item larger than the batch's max_bytes on its own still forms a batch (of one) instead of being lost or merged."""
    sizes = [len(m.item) for b in cut([row(1), row(2, pad=200), row(3)], mapper(), WIDE, NOW).batches for m in b.items]
    made = cut([row(1), row(2, pad=200), row(3)], mapper(), Limits(100, sizes[1] - 1), NOW)
    assert [[m.row.seq for m in batch.items] for batch in made.batches] == [[1], [2], [3]]
    assert made.dead == []


def test_halves_are_keyed_by_their_own_seqs() -> None:
    """A too-large batch of three splits into [1] and [2, 3], each with the key of its own first and last seq."""
    [batch] = cut([row(1), row(2), row(3)], mapper(), WIDE, NOW).batches
    first, second = halves(batch.partition, batch.items, mapper().adapter.object_key)
    assert [(h.key, [m.row.seq for m in h.items]) for h in (first, second)] == [("t-1/1-1", [1]), ("t-1/2-3", [2, 3])]


def test_limits_are_the_sinks_within_the_destinations() -> None:
    """A configured batch larger than the destination's hard limits is cut at the hard limits."""
    from adapters.contract import BatchLimits, HardLimits

    assert Limits.within(BatchLimits(500, 10_000, 1.0), HardLimits(100, 1 << 20, 1000)) == Limits(100, 10_000)
