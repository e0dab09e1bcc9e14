"""The buffer contract suite: the promises of :class:`shippers.buffer.protocol.Buffer`, as tests every store runs.

Subclass it in a test module and provide an ``open_store`` fixture: a callable that opens the
same store each time it is called (a second call is a second handle, as another process would
hold), with ``max_bytes`` as its cap, and closes every handle after the test::

    from shippers.testing.buffer_contract import BufferContract

    class TestMyBufferContract(BufferContract):
        @pytest.fixture
        def open_store(self, tmp_path):
            handles = []
            def open_store(max_bytes=CONTRACT_MAX_BYTES):
                handles.append(MyBuffer(tmp_path / "store", max_bytes=max_bytes))
                return handles[-1]
            yield open_store
            for handle in handles:
                handle.close()

The suite uses only the protocol: positions, recorded batches and their keys, settles, the DLQ,
the delivery lock and ``when_full``, never a file or a table.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import DeadItem, NewBatch, SinkPolicy
from shippers.catalog import builtin_catalog
from shippers.errors import BufferFullError, BufferLockedError, ReplayConflictError, SinkRemovedError
from shippers.event import Event, EventValidator, encode_event

# Why: ample room for every test but the one about a full sink, which sets its own cap.
CONTRACT_MAX_BYTES = 10 * 1024 * 1024
# A fixed "now" for the events of the suite (2026-11-25).
CONTRACT_NOW = 1_795_000_000.0

OpenStore = Callable[..., Buffer]
_VALIDATOR = EventValidator(builtin_catalog(), clock=lambda: CONTRACT_NOW)


def stored_events(n: int, start: int = 0, **fields: object) -> list[tuple[Event, bytes]]:
    """``n`` (event, stored bytes) pairs, ids ``e<start>``..., as ingest hands them to ``append``."""
    out = []
    for i in range(start, start + n):
        event = _VALIDATOR.from_fields({"type": "login.completed", "id": f"e{i}", "userId": "u", **fields})
        out.append((event, encode_event(event)))
    return out


def sink_policy(name: str, **changes: object) -> SinkPolicy:
    """A sink policy with the config defaults (block when full, no own cap, start at the tail)."""
    values: dict[str, object] = {"type": "memory", "when_full": "block", "max_backlog": None, "start_at": "tail", **changes}
    return SinkPolicy(name, **values)  # type: ignore[arg-type]


def dead_item(seq: int, reason: str = "refused") -> DeadItem:
    """A dead letter for ``seq`` whose body is a real stored event."""
    _, body = stored_events(1, seq)[0]
    return DeadItem(seq, "rejected_by_destination", reason, body)


def assert_two_letters_counted_for_a(store: Buffer) -> None:
    """Sink a's two dead letters (and no other sink's) are counted by dead_letter_count, sinks() and stats()."""
    assert store.dead_letter_count("a") == 2 and store.dead_letter_count() == 2
    [row] = [r for r in store.sinks() if r.name == "a"]
    assert (row.dead_lettered, row.dlq_events) == (2, 2)
    assert store.stats()["deadLetters"] == 2


class StoreFixtures:
    """The fixtures the contract suites share: ``open_store`` (the subclass's) and ``store``."""

    @pytest.fixture
    def open_store(self) -> OpenStore:  # pragma: no cover - provided by subclasses
        raise NotImplementedError("provide an `open_store` fixture")

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Buffer:
        """A store delivered from by this handle, with sinks ``a`` and ``b`` registered before any event."""
        store = open_store()
        assert store.acquire_delivery_lock()
        store.register_sinks([sink_policy("a"), sink_policy("b")])
        return store


class BufferContract(StoreFixtures):
    """Every Buffer passes these; see the module docstring for how to use them."""

    # -- appending and reading ----------------------------------------------------------
    def test_appends_get_contiguous_seqs_in_commit_order(self, store: Buffer) -> None:
        """Two appends return their last seq, and a scan reads seqs 1..n in order; appending nothing returns 0."""
        assert store.append(stored_events(3)) == 3
        assert store.append(stored_events(2, 3)) == 5
        assert store.append([]) == 0
        assert [row.seq for row in store.scan(0, 100)] == [1, 2, 3, 4, 5]
        assert store.last_seq() == 5
        assert store.stats()["lastSeq"] == 5

    def test_appended_events_survive_reopening(self, store: Buffer, open_store: OpenStore) -> None:
        """What append returned for is there, byte for byte, through another handle after this one closed."""
        written = stored_events(3, tenantId="t-1")
        store.append(written)
        store.close()
        rows = open_store().scan(0, 100)
        assert [row.body for row in rows] == [body for _, body in written]
        assert {(row.type, row.outcome, row.tenant, row.only_sink) for row in rows} == {("login.completed", "success", "t-1", None)}

    def test_scan_reads_after_the_cursor_up_to_the_limit(self, store: Buffer) -> None:
        """scan(2, 2) gives seqs 3 and 4 only; a scan past the end gives nothing."""
        store.append(stored_events(5))
        assert [row.seq for row in store.scan(2, 2)] == [3, 4]
        assert store.scan(5, 10) == []

    def test_read_gives_the_rows_asked_for_in_that_order(self, store: Buffer) -> None:
        """read([3, 1, 99]) gives rows 3 then 1; a seq the store does not hold is left out."""
        store.append(stored_events(3))
        assert [row.seq for row in store.read([3, 1, 99])] == [3, 1]

    def test_an_append_for_one_sink_marks_every_row_for_it(self, store: Buffer) -> None:
        """append(..., only_sink="b") stores rows that name b alone; a plain append names no sink."""
        store.append(stored_events(1))
        store.append(stored_events(2, 1), only_sink="b")
        assert [row.only_sink for row in store.scan(0, 10)] == [None, "b", "b"]

    def test_routing_counts_group_a_range_by_its_routing_columns(self, store: Buffer) -> None:
        """routing_counts(1, 4) says how many rows of seqs 2..4 carry each (type, outcome, tenant, only_sink)."""
        store.append(stored_events(2, tenantId="t-1"))
        store.append(stored_events(1, 2, tenantId="t-2"))
        store.append(stored_events(1, 3, tenantId="t-1"), only_sink="a")
        counts = {(c.type, c.outcome, c.tenant, c.only_sink): c.count for c in store.routing_counts(1, 4)}
        assert counts == {("login.completed", "success", "t-1", None): 1, ("login.completed", "success", "t-2", None): 1,
                          ("login.completed", "success", "t-1", "a"): 1}

    # -- sinks and positions ----------------------------------------------------------------
    def test_a_new_sink_starts_at_the_tail_or_the_oldest_event(self, store: Buffer) -> None:
        """A sink registered later starts after what is stored, or at the oldest event with start_at = oldest."""
        store.append(stored_events(3))
        store.register_sinks([sink_policy("a"), sink_policy("b"), sink_policy("late"), sink_policy("all", start_at="oldest")])
        assert store.position("late") == (3, 3)
        assert store.position("all") == (0, 0)
        with pytest.raises(KeyError):
            store.position("unknown")

    def test_the_first_sinks_ever_start_at_the_oldest_event(self, open_store: OpenStore) -> None:
        """Events appended before any deliverer came are delivered: the first registration starts at the oldest."""
        store = open_store()
        store.append(stored_events(3))
        assert store.acquire_delivery_lock()
        store.register_sinks([sink_policy("a")])
        assert store.position("a") == (0, 0)

    def test_the_stored_policies_are_the_registered_ones(self, store: Buffer) -> None:
        """stored_policies gives back each sink's type, when_full and max_backlog as registered."""
        store.register_sinks([sink_policy("a"), sink_policy("b", when_full="drop_oldest", max_backlog=4096)])
        assert store.stored_policies() == {"a": ("memory", "block", None), "b": ("memory", "drop_oldest", 4096)}

    def test_a_removed_sink_is_dropped_only_when_it_holds_nothing(self, store: Buffer) -> None:
        """Registering without b while b has a backlog raises SinkRemovedError and changes nothing; caught up, b is dropped."""
        store.append(stored_events(2))
        store.record_cut("a", [NewBatch("", None, [1, 2])], [], 2)
        with pytest.raises(SinkRemovedError) as refused:
            store.register_sinks([sink_policy("a")])
        assert refused.value.sinks == {"b": 2}
        assert {row.name for row in store.sinks()} == {"a", "b"}
        store.record_cut("b", [], [], 2)
        assert store.register_sinks([sink_policy("a")]) == ["b"]
        assert [row.name for row in store.sinks()] == ["a"]

    def test_forgetting_a_sink_counts_what_it_drops(self, store: Buffer) -> None:
        """forget_sink drops the position and its backlog, returns how many, and forgotten_sinks remembers it."""
        store.append(stored_events(3))
        assert store.forget_sink("b") == 3
        assert store.forgotten_sinks() == {"b": 3}
        assert [row.name for row in store.sinks()] == ["a"]
        with pytest.raises(KeyError):
            store.forget_sink("b")

    # -- the delivery path ---------------------------------------------------------------
    def test_a_cut_records_its_batches_with_their_keys(self, store: Buffer) -> None:
        """record_cut gives back one record per batch, in order, with the keys as given; open_batches reads them back."""
        store.append(stored_events(4))
        first, second = store.record_cut("a", [NewBatch("p", "key-1-2", [1, 2]), NewBatch("q", None, [4])], [], 4)
        assert (first.partition, first.key, first.seqs) == ("p", "key-1-2", (1, 2))
        assert (second.partition, second.key, second.seqs) == ("q", None, (4,))
        assert first.id != second.id
        assert store.open_batches("a") == [first, second]
        assert store.position("a") == (0, 4)

    def test_a_cut_behind_the_cursor_records_nothing(self, store: Buffer) -> None:
        """A cut whose cut_through is behind the sink's (drop_oldest moved it meanwhile) records no batch."""
        store.append(stored_events(4))
        store.record_cut("a", [], [], 4)
        assert store.record_cut("a", [NewBatch("", None, [1, 2])], [dead_item(3)], 2) == []
        assert store.open_batches("a") == [] and store.dead_letter_count("a") == 0
        assert store.position("a") == (4, 4)

    def test_the_watermark_passes_a_batch_only_once_it_is_settled(self, store: Buffer) -> None:
        """A later batch settled first leaves the watermark below the earlier one; settling that one moves it to cut_through."""
        store.append(stored_events(6))
        first, second = store.record_cut("a", [NewBatch("p1", None, [1, 2, 3]), NewBatch("p2", None, [4, 5, 6])], [], 6)
        assert store.settle(second, delivered=3)
        assert store.position("a") == (0, 6)
        assert store.settle(first, delivered=2, duplicates=1)
        assert store.position("a") == (6, 6)
        [row] = [r for r in store.sinks() if r.name == "a"]
        assert (row.delivered, row.duplicates) == (5, 1)

    def test_a_partial_settle_keeps_the_rest_under_its_recorded_key(self, store: Buffer) -> None:
        """Settling with remaining=[2] keeps one open batch of seq 2 with the key recorded at the cut."""
        store.append(stored_events(3))
        [batch] = store.record_cut("a", [NewBatch("", "key-1-3", [1, 2, 3])], [], 3)
        assert store.settle(batch, delivered=1, dead=[dead_item(3)], remaining=[2])
        [left] = store.open_batches("a")
        assert (left.id, left.seqs, left.key) == (batch.id, (2,), "key-1-3")
        assert store.position("a") == (1, 3)

    def test_sinks_count_the_events_in_flight(self, store: Buffer) -> None:
        """A sink's in_flight is the events of its open batches: 3 recorded, then 1 once the other two settled."""
        store.append(stored_events(4))
        first, _ = store.record_cut("a", [NewBatch("", None, [1, 2]), NewBatch("", None, [3])], [], 4)
        assert {r.name: r.in_flight for r in store.sinks()} == {"a": 3, "b": 0}
        store.settle(first, delivered=2)
        assert {r.name: r.in_flight for r in store.sinks()} == {"a": 1, "b": 0}

    def test_settling_a_batch_that_is_gone_writes_nothing(self, store: Buffer) -> None:
        """The second settle of one batch returns False and counts nothing twice."""
        store.append(stored_events(2))
        [batch] = store.record_cut("a", [NewBatch("", None, [1, 2])], [], 2)
        assert store.settle(batch, delivered=2)
        assert not store.settle(batch, delivered=2, dead=[dead_item(1)])
        [row] = [r for r in store.sinks() if r.name == "a"]
        assert (row.delivered, row.dead_lettered) == (2, 0)

    def test_a_split_replaces_the_batch_by_its_parts(self, store: Buffer) -> None:
        """replace_batch records each part with its own key and drops the batch; a second replace finds nothing."""
        store.append(stored_events(4))
        [batch] = store.record_cut("a", [NewBatch("p", "key-1-4", [1, 2, 3, 4])], [], 4)
        halves = store.replace_batch(batch, [NewBatch("p", "key-1-2", [1, 2]), NewBatch("p", "key-3-4", [3, 4])])
        assert [(h.key, h.seqs) for h in halves] == [("key-1-2", (1, 2)), ("key-3-4", (3, 4))]
        assert store.open_batches("a") == halves
        assert store.replace_batch(batch, [NewBatch("p", None, [1])]) == []

    def test_events_are_held_until_every_sink_is_done_with_them(self, store: Buffer) -> None:
        """The slowest sink pins the events: they leave the store only once both sinks settled them."""
        store.append(stored_events(2))
        [batch] = store.record_cut("a", [NewBatch("", None, [1, 2])], [], 2)
        store.settle(batch, delivered=2)
        assert store.stats()["events"] == 2
        store.record_cut("b", [], [dead_item(1), dead_item(2)], 2)
        assert store.stats()["events"] == 0
        assert store.scan(0, 10) == []

    def test_note_attempt_is_what_sinks_shows(self, store: Buffer) -> None:
        """The state, last error and retries recorded after attempts are what sinks() reports."""
        store.note_attempt("a", state="retrying", error="503 busy", retried=True)
        store.note_attempt("a", state="active", error=None, retried=False)
        [row] = [r for r in store.sinks() if r.name == "a"]
        assert (row.state, row.last_error, row.retries) == ("active", "503 busy", 1)

    # -- the delivery lock ------------------------------------------------------------------
    def test_one_handle_at_a_time_holds_the_delivery_lock(self, store: Buffer, open_store: OpenStore) -> None:
        """While one handle delivers another is refused and told who holds it; once released the other gets it."""
        other = open_store()
        assert not other.acquire_delivery_lock()
        with pytest.raises(BufferLockedError):
            other.require_delivery_lock()
        assert other.delivery_holder() == (str(os.getpid()), store.schema_version)
        assert store.delivery_holder() is None
        store.release_delivery_lock()
        assert other.acquire_delivery_lock()

    # -- dead letters -----------------------------------------------------------------------
    def test_dead_letters_are_kept_counted_and_shown(self, store: Buffer) -> None:
        """Letters from a cut and from a settle are listed in order with their reasons and counted everywhere."""
        store.append(stored_events(3))
        [batch] = store.record_cut("a", [NewBatch("", None, [2, 3])], [dead_item(1, "too old")], 3)
        store.settle(batch, delivered=1, dead=[dead_item(3, "refused")])
        letters = store.dead_letters("a")
        assert [(d.seq, d.reason, d.event.id if d.event else None) for d in letters] == [(1, "too old", "e1"), (3, "refused", "e3")]
        assert_two_letters_counted_for_a(store)

    def test_a_replay_requeues_the_letters_for_their_sink_alone(self, store: Buffer) -> None:
        """replay_dead_letters appends each letter again for its sink only and empties that DLQ."""
        store.append(stored_events(1))
        store.record_cut("a", [], [dead_item(1)], 1)
        assert store.replay_dead_letters("a") == 1
        assert store.dead_letter_count("a") == 0
        [row] = store.scan(1, 10)
        assert (row.seq, row.only_sink, row.body) == (2, "a", dead_item(1).body)

    def test_an_archive_replay_chunk_commits_with_its_checkpoint(self, store: Buffer, open_store: OpenStore) -> None:
        """append_replayed writes rows for one sink with their pii tags and the checkpoint, read back by another handle."""
        events = [(event, body, "email=hash;ip=keep;userAgent=keep" if i == 0 else None)
                  for i, (event, body) in enumerate(stored_events(2))]
        assert store.append_replayed(events, only_sink="a", checkpoint=("run1.obj-1", "2"), expected=None) == 2
        assert store.append_replayed([], only_sink="a", checkpoint=("run1.obj-1", "done 2"), expected="2") == 2
        other = open_store()
        rows = other.scan(0, 10)
        assert [(r.only_sink, r.pii) for r in rows] == [("a", "email=hash;ip=keep;userAgent=keep"), ("a", None)]
        assert other.replay_checkpoints("run1") == {"obj-1": "done 2"}
        assert other.replay_checkpoints("run2") == {}

    def test_a_refused_replay_chunk_writes_no_checkpoint(self, open_store: OpenStore) -> None:
        """A chunk the store refuses (a full sink) leaves neither its events nor its checkpoint."""
        store = open_store(max_bytes=CONTRACT_MAX_BYTES)
        assert store.acquire_delivery_lock()
        store.register_sinks([sink_policy("a", max_backlog=2000)])
        store.append(stored_events(5))
        with pytest.raises(BufferFullError):
            store.append_replayed([(e, b, None) for e, b in stored_events(20, 5)], only_sink="a", checkpoint=("r.o", "20"), expected=None)
        assert (store.last_seq(), store.replay_checkpoints("r")) == (5, {})

    def test_a_replay_chunk_whose_checkpoint_moved_is_refused_whole(self, store: Buffer, open_store: OpenStore) -> None:
        """Two runs of one replay: the chunk of the run that finds the checkpoint moved (another handle wrote it) writes nothing."""
        first, second = store, open_store()
        chunk = [(e, b, None) for e, b in stored_events(3)]
        assert first.append_replayed(chunk, only_sink="a", checkpoint=("r.o", "3"), expected=None) == 3
        with pytest.raises(ReplayConflictError, match="another replay with the same arguments"):
            second.append_replayed(chunk, only_sink="a", checkpoint=("r.o", "3"), expected=None)
        with pytest.raises(ReplayConflictError):
            second.append_replayed([], only_sink="a", checkpoint=("r.o", "done 3"), expected="1")
        assert (second.last_seq(), second.replay_checkpoints("r")) == (3, {"o": "3"})

    def test_a_purge_deletes_the_letters_of_one_sink(self, store: Buffer) -> None:
        """purge_dead_letters("a") removes a's letters, says how many, and leaves b's."""
        store.append(stored_events(2))
        store.record_cut("a", [], [dead_item(1), dead_item(2)], 2)
        store.record_cut("b", [], [dead_item(1)], 2)
        assert store.purge_dead_letters("a") == 2
        assert (store.dead_letter_count("a"), store.dead_letter_count("b")) == (0, 1)

    # -- when full ------------------------------------------------------------------------
    def test_a_full_blocking_sink_refuses_the_whole_append(self, open_store: OpenStore) -> None:
        """An append that would pass a blocking sink's cap raises BufferFullError naming the sink, and writes nothing."""
        store = open_store(max_bytes=CONTRACT_MAX_BYTES)
        assert store.acquire_delivery_lock()
        store.register_sinks([sink_policy("a", max_backlog=2000)])
        store.append(stored_events(5))
        with pytest.raises(BufferFullError) as refused:
            store.append(stored_events(20, 5))
        assert refused.value.retry_after > 0 and refused.value.sink == "a"
        assert store.last_seq() == 5
