"""The delivery contract: what every store keeps through ``append`` and a sink's :class:`DeliverySource`.

:mod:`shippers.testing.buffer_contract` holds a store to its global positions (one deliverer, seqs
1..n for every sink). A fleet's store (JetStream) has none: each member sees a sink through its own
source, with its own seqs. This suite is the part every store keeps, written only against what the
delivery core uses: append, then per sink scan -> record_cut -> settle / replace_batch, positions,
open batches, dead letters, replay and purge, and what ``sinks()`` and ``stats()`` say about them.
Seqs are never assumed: each test takes them from what the source's scan gave.

Subclass it and provide ``open_store``: a callable that opens the same store each time (a second
call is a second handle, as another process would hold) and closes every handle after the test.
"""

from __future__ import annotations

from collections.abc import Callable

from shippers.buffer.protocol import Buffer, DeliverySource
from shippers.buffer.records import DeadItem, NewBatch, StoredRow
from shippers.testing.buffer_contract import StoreFixtures, assert_two_letters_counted_for_a, stored_events
from shippers.testing.waiting import wait_for

OpenStore = Callable[..., Buffer]


def scan_all(source: DeliverySource, sink: str, want: int, limit: int = 100) -> list[StoredRow]:
    """Scan the sink's source past its cut_through until ``want`` rows came (a fleet's fetch may hand them out in parts)."""
    rows: list[StoredRow] = []

    def more() -> bool:
        after = rows[-1].seq if rows else source.position(sink)[1]
        rows.extend(source.scan(after, limit))
        return len(rows) >= want

    wait_for(more, f"{want} rows for sink {sink!r}")
    return rows


def dead(row: StoredRow, reason: str = "refused") -> DeadItem:
    return DeadItem(row.seq, "rejected_by_destination", reason, row.body)


class DeliveryContract(StoreFixtures):
    """Every store passes these (see the module docstring)."""

    # -- appending --------------------------------------------------------------------------
    def test_appends_return_a_growing_last_seq(self, store: Buffer) -> None:
        """Each append returns a last seq above the previous one (and stats agree); appending nothing returns 0."""
        first = store.append(stored_events(3))
        second = store.append(stored_events(2, 3))
        assert 0 < first < second and store.append([]) == 0
        assert store.stats()["lastSeq"] == second

    def test_appended_events_reach_each_sink_byte_for_byte(self, store: Buffer, open_store: OpenStore) -> None:
        """What append returned for is scanned by every sink's source, in order, with its routing columns, through another handle."""
        written = stored_events(3, tenantId="t-1")
        store.append(written)
        store.close()
        other = open_store()
        for sink in ("a", "b"):
            rows = scan_all(other.delivery_source(sink), sink, 3)
            assert [row.body for row in rows] == [body for _, body in written]
            assert {(row.type, row.outcome, row.tenant, row.only_sink) for row in rows} == {("login.completed", "success", "t-1", None)}

    # -- cutting and settling -----------------------------------------------------------------
    def test_a_cut_is_held_below_the_watermark_until_settled(self, store: Buffer) -> None:
        """record_cut records the batch with its key and moves cut_through; the watermark passes it only once it is settled."""
        store.append(stored_events(3))
        source = store.delivery_source("a")
        rows = scan_all(source, "a", 3)
        seqs = [row.seq for row in rows]
        [batch] = source.record_cut("a", [NewBatch("p", "key-1", seqs)], [], seqs[-1])
        assert (batch.partition, batch.key, batch.seqs) == ("p", "key-1", tuple(seqs))
        assert source.open_batches("a") == [batch]
        watermark, cut_through = source.position("a")
        assert cut_through == seqs[-1] and watermark < seqs[0]
        assert source.settle(batch, delivered=3)
        assert source.open_batches("a") == [] and source.position("a")[0] == seqs[-1]
        assert not source.settle(batch, delivered=3)  # gone: nothing written

    def test_a_partial_settle_keeps_the_rest_under_its_recorded_key(self, store: Buffer) -> None:
        """settle(remaining=[last]) leaves one open batch with the same id and key holding only that event."""
        store.append(stored_events(3))
        source = store.delivery_source("a")
        seqs = [row.seq for row in scan_all(source, "a", 3)]
        [batch] = source.record_cut("a", [NewBatch("", "k", seqs)], [], seqs[-1])
        assert source.settle(batch, delivered=2, remaining=[seqs[-1]])
        [left] = source.open_batches("a")
        assert (left.id, left.key, left.seqs) == (batch.id, "k", (seqs[-1],))
        assert source.read(left.seqs)[0].body == stored_events(1, 2)[0][1]

    def test_a_split_replaces_the_batch_by_its_parts(self, store: Buffer) -> None:
        """replace_batch gives the parts their own records (keys as given); a gone batch is not replaced."""
        store.append(stored_events(4))
        source = store.delivery_source("a")
        seqs = [row.seq for row in scan_all(source, "a", 4)]
        [batch] = source.record_cut("a", [NewBatch("", "k", seqs)], [], seqs[-1])
        parts = source.replace_batch(batch, [NewBatch("", "k-1", seqs[:2]), NewBatch("", "k-2", seqs[2:])])
        assert [(p.key, p.seqs) for p in parts] == [("k-1", tuple(seqs[:2])), ("k-2", tuple(seqs[2:]))]
        assert source.open_batches("a") == parts
        assert source.replace_batch(batch, [NewBatch("", "x", seqs)]) == []

    def test_rows_a_cut_passes_without_a_batch_are_done_for_the_sink(self, store: Buffer) -> None:
        """A cut over rows it puts in no batch (its route skips them) leaves the sink with nothing to do: no lag, nothing open."""
        store.append(stored_events(3))
        source = store.delivery_source("a")
        rows = scan_all(source, "a", 3)
        source.record_cut("a", [], [], rows[-1].seq)
        assert source.open_batches("a") == []
        wait_for(lambda: [r.lag_events for r in store.sinks() if r.name == "a"] == [0], "sink a has nothing left")

    def test_note_attempt_and_settles_are_what_sinks_shows(self, store: Buffer) -> None:
        """The state, last error, retries and the delivered and duplicate counts of settles appear in sinks()."""
        store.append(stored_events(2))
        source = store.delivery_source("a")
        seqs = [row.seq for row in scan_all(source, "a", 2)]
        [batch] = source.record_cut("a", [NewBatch("", None, seqs)], [], seqs[-1])
        source.note_attempt("a", state="retrying", error="HTTP 503", retried=True)
        source.settle(batch, delivered=1, duplicates=1)
        [row] = [r for r in store.sinks() if r.name == "a"]
        assert (row.state, row.last_error, row.retries, row.delivered, row.duplicates) == ("retrying", "HTTP 503", 1, 1, 1)

    # -- dead letters ----------------------------------------------------------------------------
    def test_dead_letters_are_kept_counted_and_shown(self, store: Buffer) -> None:
        """Letters from a cut and from a settle are listed in order with their reasons and counted everywhere."""
        store.append(stored_events(3))
        source = store.delivery_source("a")
        rows = scan_all(source, "a", 3)
        [batch] = source.record_cut("a", [NewBatch("", None, [rows[1].seq, rows[2].seq])], [dead(rows[0], "too old")], rows[2].seq)
        source.settle(batch, delivered=1, dead=[dead(rows[2], "refused")])
        letters = store.dead_letters("a")
        assert [(d.reason, d.event.id if d.event else None) for d in letters] == [("too old", "e0"), ("refused", "e2")]
        assert_two_letters_counted_for_a(store)

    def test_a_replay_requeues_the_letters_for_their_sink_alone(self, store: Buffer) -> None:
        """replay_dead_letters empties the sink's DLQ and the sink scans each letter again, marked for it alone."""
        store.append(stored_events(1))
        source = store.delivery_source("a")
        [row] = scan_all(source, "a", 1)
        source.record_cut("a", [], [dead(row)], row.seq)
        assert store.replay_dead_letters("a") == 1
        assert store.dead_letter_count("a") == 0
        [again] = scan_all(source, "a", 1)
        assert (again.only_sink, again.body) == ("a", row.body)
        b_rows = store.delivery_source("b").scan(store.delivery_source("b").position("b")[1], 100)
        assert all(r.only_sink in (None, "a") for r in b_rows) and sum(r.only_sink is None for r in b_rows) == 1

    def test_a_purge_deletes_the_letters_of_one_sink(self, store: Buffer) -> None:
        """purge_dead_letters("a") removes a's letters, says how many, and leaves b's."""
        store.append(stored_events(2))
        for sink, count in (("a", 2), ("b", 1)):
            source = store.delivery_source(sink)
            rows = scan_all(source, sink, 2)
            source.record_cut(sink, [], [dead(r) for r in rows[:count]], rows[-1].seq)
        assert store.purge_dead_letters("a") == 2
        assert (store.dead_letter_count("a"), store.dead_letter_count("b")) == (0, 1)
