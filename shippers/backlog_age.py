"""How long a sink's oldest pending event has waited: ``oldestPendingAgeSeconds`` in status, a gauge in /metrics.

A backlog of 10k events is fine if it is 2 seconds old and an outage if it is 2 hours old; lag alone
cannot tell the two apart. The oldest event a sink has not finished is either the first of its
oldest recorded batch (cut, not settled) or, with nothing in flight, the first row above its
``cut_through`` that its route takes. Its age is measured from when the store accepted it
(``StoredRow.received``, the wall clock), so an alert on it means "events wait this long here".
Only :class:`~shippers.buffer.protocol.Buffer` methods are used, so every store implementation works.
"""

from __future__ import annotations

from collections.abc import Callable

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import SinkRow, StoredRow

# Why: with nothing in flight the oldest routed row is looked for above cut_through; a sink whose route
# takes few of the stored events may have to skip many. 4 reads of 1000 rows (bodies included, ~a few ms)
# bound what one status may cost; past them the age is not known (None) until the sink cuts.
SCAN_CHUNK_ROWS = 1000
MAX_SCAN_CHUNKS = 4


def oldest_pending_received(buffer: Buffer, row: SinkRow, takes: Callable[[StoredRow], bool] | None, routed_above_cut: int) -> float | None:
    """When the store accepted the oldest event ``row``'s sink has not finished; None when there is none (or not found)."""
    if row.in_flight > 0:
        batches = buffer.open_batches(row.name)
        if batches:
            first = min(batch.first_seq for batch in batches)
            stored = buffer.read([first])
            if stored:
                return stored[0].received
    if routed_above_cut <= 0:
        return None
    after = row.cut_through
    for _ in range(MAX_SCAN_CHUNKS):
        rows = buffer.scan(after, SCAN_CHUNK_ROWS)
        for stored in rows:
            if takes is None or takes(stored):
                return stored.received
        if len(rows) < SCAN_CHUNK_ROWS:
            return None
        after = rows[-1].seq
    return None


def age_seconds(received: float | None, now: float) -> float | None:
    """Seconds since ``received`` (never negative: a wall clock stepped back shows 0), rounded for display."""
    if received is None:
        return None
    return round(max(0.0, now - received), 3)
