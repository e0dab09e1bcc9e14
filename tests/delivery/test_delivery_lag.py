"""RoutedLag counts exactly the rows a route takes in any seq range, reading each full block of the store once."""

from __future__ import annotations

from pathlib import Path

import pytest

from shippers.buffer import SqliteBuffer
from shippers.buffer.records import RoutingCount
from shippers.config import RouteConfig
from shippers.delivery import lag
from shippers.delivery.lag import RoutedLag
from shippers.routing import Route
from shippers.testing.buffer_contract import sink_policy, stored_events

# Why: blocks of 4 make a range of 30 rows cross many of them, partial at both ends.
SMALL_BLOCK = 4
ROWS = 30


class CountingStore:
    """The store, counting the grouped reads RoutedLag makes of it."""

    def __init__(self, store: SqliteBuffer) -> None:
        self.store = store
        self.reads: list[tuple[int, int]] = []

    def routing_counts(self, after_seq: int, through_seq: int) -> list[RoutingCount]:
        self.reads.append((after_seq, through_seq))
        return self.store.routing_counts(after_seq, through_seq)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CountingStore:
    monkeypatch.setattr(lag, "LAG_BLOCK", SMALL_BLOCK)
    buffer = SqliteBuffer(tmp_path / "store", max_bytes=1 << 24)
    buffer.register_sinks([sink_policy("t1")])
    for i in range(ROWS):  # every third row of tenant t-1, the others of t-2
        buffer.append(stored_events(1, i, tenantId="t-1" if i % 3 == 0 else "t-2"))
    return CountingStore(buffer)


def test_every_range_counts_what_the_route_takes(store: CountingStore) -> None:
    """For every (after, through] over 30 rows in blocks of 4, the count is the rows of tenant t-1 in it, one by one."""
    route = Route("t1", RouteConfig(tenants=["t-1"]))
    counter = RoutedLag(store, {"t1": route.takes})  # type: ignore[arg-type]
    taken = [row.seq for row in store.store.scan(0, ROWS) if route.takes(row)]
    for after in range(ROWS + 1):
        for through in range(after, ROWS + 1):
            assert counter.routed("t1", after, through) == sum(1 for s in taken if after < s <= through), (after, through)


def test_a_full_block_is_read_once(store: CountingStore) -> None:
    """A second count over the same range reads only its partial ends again, never a full block."""
    counter = RoutedLag(store, {"t1": Route("t1", RouteConfig(tenants=["t-1"])).takes})  # type: ignore[arg-type]
    first = counter.routed("t1", 2, 27)
    full_blocks = [(k * SMALL_BLOCK, (k + 1) * SMALL_BLOCK) for k in range(1, 6)]
    assert sorted(set(store.reads) & set(full_blocks)) == full_blocks
    store.reads.clear()
    assert counter.routed("t1", 2, 27) == first
    assert store.reads == [(2, 4), (24, 27)]


def test_a_sink_without_a_route_counts_every_row(store: CountingStore) -> None:
    """A sink this process has no route for counts every row, as the store's own lag does."""
    assert RoutedLag(store, {}).routed("other", 0, ROWS) == ROWS  # type: ignore[arg-type]


def test_lag_adds_the_events_in_flight(store: CountingStore) -> None:
    """events() is the events in open batches plus the routed ones above cut_through."""
    counter = RoutedLag(store, {"t1": Route("t1", RouteConfig(tenants=["t-1"])).takes})  # type: ignore[arg-type]
    assert counter.events("t1", cut_through=24, in_flight=5, last_seq=ROWS) == 5 + 2  # seqs 25 and 28 are t-1's
