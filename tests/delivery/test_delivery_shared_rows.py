"""The fan-out's shared window (shippers.delivery.shared_rows): each row read and decoded once for all sinks, never a wrong row."""

from __future__ import annotations

import gc
import random
import threading
import time

from delivery_rows import UNDECODABLE, mapped, row

from shippers.buffer.records import DeadItem, StoredRow
from shippers.delivery.codes import CODE_UNDECODABLE
from shippers.delivery.shared_rows import SharedRows
from shippers.event import Event

ROWS = 500


class CountingStore:
    """The two reads a scan makes of a store, over rows (first, last]; counts the rows it hands out."""

    def __init__(self, last: int, first: int = 0, *, yielding: bool = False) -> None:
        self.rows = {seq: row(seq) for seq in range(first + 1, last + 1)}
        self.handed_out = 0
        self.yielding = yielding  # give other threads the interpreter mid-read, as SQLite does

    def scan(self, after_seq: int, limit: int) -> list[StoredRow]:
        if self.yielding:
            time.sleep(0)
        found = [self.rows[seq] for seq in sorted(self.rows) if seq > after_seq][:limit]
        self.handed_out += len(found)
        return found

    def last_seq(self) -> int:
        return max(self.rows, default=0)


def shared_over(store: CountingStore, window_rows: int = 20_000) -> SharedRows:
    return SharedRows(store, window_rows)  # type: ignore[arg-type]  # the two reads SharedRows makes


def test_sinks_scanning_the_same_rows_read_each_from_the_store_once() -> None:
    """Four sinks scanning 500 rows in chunks, interleaved, get every row and the store hands out each row once."""
    store = CountingStore(ROWS)
    shared = shared_over(store)
    sinks = [shared.for_sink(name) for name in ("es", "s3", "dd", "gcl")]
    cursors = [0] * len(sinks)
    seen: list[list[int]] = [[] for _ in sinks]
    while min(cursors) < ROWS:
        for i, sink in enumerate(sinks):
            chunk = sink.scan(cursors[i], 40 + 10 * i)  # each at its own pace
            seen[i] += [r.seq for r in chunk]
            cursors[i] = chunk[-1].seq if chunk else cursors[i]
    assert all(seqs == list(range(1, ROWS + 1)) for seqs in seen)
    assert store.handed_out == ROWS


def test_any_interleaving_of_scans_answers_as_the_store_does() -> None:
    """Random scans by three sinks (forward, backward after a restart, past the end) always equal the store's own answer."""
    store = CountingStore(ROWS, first=20)  # rows 1..20 already collected
    shared = shared_over(store, window_rows=120)
    rng = random.Random(11)
    for _ in range(600):
        sink = rng.choice(("a", "b", "c"))
        after, limit = rng.randrange(0, ROWS + 10), rng.randrange(1, 90)
        assert shared.scan(sink, after, limit) == CountingStore(ROWS, first=20).scan(after, limit), (sink, after, limit)


def test_sinks_scanning_on_their_own_threads_each_get_every_row_in_order() -> None:
    """Four threads scanning and decoding through one window at once each see every row once, in order, decoded right."""
    store = CountingStore(ROWS, yielding=True)
    shared = shared_over(store, window_rows=60)  # small: trims and restarts happen while others read
    seen: dict[str, list[tuple[int, str]]] = {}

    def sink(name: str, step: int) -> None:
        rows, cursor, mine = shared.for_sink(name), 0, []
        while cursor < ROWS and len(mine) <= ROWS:  # bounded: a window serving wrong rows fails, never loops
            chunk = rows.scan(cursor, step)
            mine += [(r.seq, shared.decode(r).id) for r in chunk]  # type: ignore[union-attr]  # every row decodes
            cursor = chunk[-1].seq
        seen[name] = mine

    threads = [threading.Thread(target=sink, args=(f"s{i}", 7 + 13 * i)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(got == [(seq, f"e{seq}") for seq in range(1, ROWS + 1)] for got in seen.values()) and len(seen) == 4


def test_a_sink_that_has_not_scanned_yet_keeps_the_rows_it_will_read() -> None:
    """Rows the first sinks passed stay in the window for a sink that has not scanned yet: it reads none of them again."""
    store = CountingStore(ROWS)
    shared = shared_over(store)
    early, late = shared.for_sink("early"), shared.for_sink("late")
    cursor = 0
    while cursor < ROWS:
        cursor = early.scan(cursor, 100)[-1].seq
    assert [r.seq for r in late.scan(0, ROWS)] == list(range(1, ROWS + 1))
    assert store.handed_out == ROWS


def test_a_sink_far_behind_reads_the_store_itself_and_the_window_stays_bounded() -> None:
    """A sink stuck at the start does not pin more than window_rows rows; its later scan still gets the right rows."""
    store = CountingStore(ROWS)
    shared = shared_over(store, window_rows=50)
    stuck, runner = shared.for_sink("stuck"), shared.for_sink("runner")
    stuck.scan(0, 10)
    cursor = 0
    while cursor < ROWS:
        cursor = runner.scan(cursor, 25)[-1].seq
    assert len(shared._rows) <= 50
    before = store.handed_out
    assert [r.seq for r in stuck.scan(10, 10)] == list(range(11, 21))
    assert store.handed_out == before + 10  # from the store, not the window


def test_each_row_of_the_window_is_decoded_once_whichever_sinks_ask() -> None:
    """Two sinks decoding the same window row get the very same Event object; a row from outside the window still decodes."""
    store = CountingStore(ROWS)
    shared = shared_over(store)
    first, second = shared.for_sink("a"), shared.for_sink("b")
    [one] = first.scan(0, 1)
    [same] = second.scan(0, 1)
    event = shared.decode(one)
    assert isinstance(event, Event) and shared.decode(same) is event
    stray = row(ROWS + 1)  # not a window row
    assert isinstance(shared.decode(stray), Event) and shared.decode(stray) is not shared.decode(stray)


def test_an_undecodable_row_is_its_own_dead_letter_through_the_window() -> None:
    """A stored body that does not decode comes back as the undecodable dead letter, its bytes kept as stored."""
    store = CountingStore(3)
    store.rows[2] = row(2, body=UNDECODABLE)
    shared = shared_over(store)
    rows = shared.for_sink("a").scan(0, 3)
    letter = shared.decode(rows[1])
    assert isinstance(letter, DeadItem) and letter.code == CODE_UNDECODABLE and letter.body == UNDECODABLE


def test_rows_events_and_mapped_items_are_not_tracked_by_the_garbage_collector() -> None:
    """What a held batch is made of (row, decoded event, mapped item) is invisible to full collections (the fan-out's CPU)."""
    [item] = mapped(1)
    assert not gc.is_tracked(item.row) and not gc.is_tracked(item.event) and not gc.is_tracked(item)


def test_a_row_cut_after_every_sink_scanned_past_it_is_still_decoded_once() -> None:
    """Rows a sink holds in a pending scan and decodes later, when every cursor (and the window) moved past them, decode once."""
    store = CountingStore(ROWS)
    shared = SharedRows(store, 20_000, decoded_behind=150)  # type: ignore[arg-type]  # the two reads SharedRows makes
    first, second = shared.for_sink("a"), shared.for_sink("b")
    held = first.scan(0, 100)  # each sink's pending scan: read now, cut (decoded) later
    assert second.scan(0, 100) == held
    event = shared.decode(held[0])  # sink a cuts its batch
    first.scan(100, 100), second.scan(100, 100)  # both extend their scans: the window drops rows 1-100
    assert held[0].seq < shared._first
    assert shared.decode(held[0]) is event  # sink b cuts the same rows: not decoded again
    first.scan(400, 100), second.scan(400, 100)  # 150 rows further on
    assert held[0].seq not in shared._decoded  # far enough behind, its decode is let go
