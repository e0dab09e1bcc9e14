"""Fault: several processes open a folder that holds no store yet, all at the same moment.

A new store is built in a side file and linked into place, so the first creator wins and every
other process opens that same store: one store id, and every append lands in it with
contiguous sequence numbers (none lost to a store that was replaced under it).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from shippers.buffer.sqlite import DB_FILE, SqliteBuffer
from shippers.event import encode_event
from shippers.testing.events import full_event

PROCESSES = 6
EVENTS_EACH = 50
# Why: a spawned child imports the package afresh (~1 s); 60 s is far past any healthy run.
JOIN_TIMEOUT_SECONDS = 60


def _create_and_append(folder: str, start: multiprocessing.synchronize.Event, ids: multiprocessing.Queue) -> None:
    start.wait(JOIN_TIMEOUT_SECONDS)
    buffer = SqliteBuffer(folder, max_bytes=64 * 1024 * 1024)
    try:
        for n in range(EVENTS_EACH):
            event = full_event("login.completed", id=f"p{multiprocessing.current_process().pid}-{n}")
            buffer.append([(event, encode_event(event))])
        ids.put(buffer.store_id)
    finally:
        buffer.close()


def test_processes_creating_one_store_at_once_share_it(tmp_path: Path) -> None:
    """Six processes that create the same new store at once end with one store id and every append in it, seqs contiguous."""
    context = multiprocessing.get_context("spawn")
    start, ids = context.Event(), context.Queue()
    children = [context.Process(target=_create_and_append, args=(str(tmp_path), start, ids)) for _ in range(PROCESSES)]
    for child in children:
        child.start()
    start.set()
    for child in children:
        child.join(JOIN_TIMEOUT_SECONDS)
    assert [child.exitcode for child in children] == [0] * PROCESSES
    store_ids = {ids.get(timeout=JOIN_TIMEOUT_SECONDS) for _ in range(PROCESSES)}
    assert len(store_ids) == 1
    db = sqlite3.connect(tmp_path / DB_FILE)
    try:
        seqs = [seq for (seq,) in db.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        db.close()
    assert seqs == list(range(1, PROCESSES * EVENTS_EACH + 1))
