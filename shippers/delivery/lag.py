"""A sink's lag as status and the backlog metric show it: the events it routes and has not finished.

That is the events in its recorded, unsettled batches, plus those above its ``cut_through`` its
route takes; an event it does not route is never lag, scanned past or not (a sink taking only
``login.failed`` shows no lag for a flood of ``login.completed``, even while it is down).

Counting what a route takes reads the routing columns grouped (``Buffer.routing_counts``), never
the bodies. Rows never change once committed, so the counts of each full block of LAG_BLOCK
seqs are read once and kept: a status over a backlog of millions reads only what is new since
the last one, plus the partial blocks at both ends.
"""

from __future__ import annotations

from collections.abc import Callable

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import RoutingCount, StoredRow

# Why: a block is one grouped read of at most this many rows (~10 ms); the first status over a backlog of a
# million events reads 122 of them (~1.2 s, measured on 2 cores), every later one only its two partial ends (<1 ms).
LAG_BLOCK = 8192

Takes = Callable[[StoredRow], bool]


class RoutedLag:
    """Counts, per sink, the events its route takes in a seq range; caches full blocks (see the module docstring)."""

    def __init__(self, buffer: Buffer, routes: dict[str, Takes]) -> None:
        self.buffer = buffer
        self.routes = routes
        self._blocks: dict[int, list[RoutingCount]] = {}  # block k: seqs (k*LAG_BLOCK, (k+1)*LAG_BLOCK]
        self._routed: dict[tuple[str, int], int] = {}  # (sink, block) -> rows of the block the sink routes

    def events(self, sink: str, cut_through: int, in_flight: int, last_seq: int) -> int:
        """The sink's lag: ``in_flight`` events in its open batches plus the routed ones in (cut_through, last_seq]."""
        return in_flight + self.routed(sink, cut_through, last_seq)

    def routed(self, sink: str, after: int, through: int) -> int:
        """How many rows in (after, through] the sink's route takes."""
        if through <= after:
            return 0
        first = -(-after // LAG_BLOCK)  # the first block starting at or after `after`
        end = through // LAG_BLOCK  # blocks [first, end) lie wholly inside the range
        if first >= end:
            return self._count(sink, self.buffer.routing_counts(after, through))
        total = self._count(sink, self.buffer.routing_counts(after, first * LAG_BLOCK))
        total += sum(self._routed_in_block(sink, k) for k in range(first, end))
        return total + self._count(sink, self.buffer.routing_counts(end * LAG_BLOCK, through))

    def forget_below(self, seq: int) -> None:
        """Drop the cache of blocks wholly at or below ``seq`` (every sink is past them)."""
        last_done = seq // LAG_BLOCK  # blocks below this one end at or before seq
        for k in [k for k in self._blocks if k < last_done]:
            del self._blocks[k]
        for key in [key for key in self._routed if key[1] < last_done]:
            del self._routed[key]

    def _routed_in_block(self, sink: str, k: int) -> int:
        key = (sink, k)
        count = self._routed.get(key)
        if count is None:
            counts = self._blocks.get(k)
            if counts is None:
                counts = self._blocks[k] = self.buffer.routing_counts(k * LAG_BLOCK, (k + 1) * LAG_BLOCK)
            count = self._routed[key] = self._count(sink, counts)
        return count

    def _count(self, sink: str, counts: list[RoutingCount]) -> int:
        takes = self.routes.get(sink)
        if takes is None:  # a sink this config does not route: every row counts, as the store's own lag does
            return sum(c.count for c in counts)
        return sum(c.count for c in counts if takes(c.as_row()))
