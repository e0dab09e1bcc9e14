"""Is there a store in this folder, a lost one, or none yet? A lost store is refused, never silently recreated.

::

    folder has none of buffer.sqlite3, -wal, -shm, -journal, deliver.lock,
      deliver.<sink>.lock                                                  -> "new": create a store (first run)
    buffer.sqlite3 with content                                            -> "present": open it (damage is found there)
    buffer.sqlite3 of 0 bytes                                              -> lost: BufferCorruptError
    no buffer.sqlite3, but its -wal/-shm/-journal or a deliver*.lock       -> lost: BufferCorruptError

A zero-byte or vanished store file where a store used to be is what a lost or unmounted volume
looks like; creating an empty store there would hide the loss (and hand out seqs from 1 again).
Starting fresh on purpose is :func:`start_fresh` (``authlog run --new-store``): it moves what is
left into ``replaced-<UTC time>/`` beside it and refuses when the folder holds a working store
with events or dead letters in it (whether or not every sink delivered them), or a file it cannot read.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from shippers.buffer.faults import store_fault
from shippers.errors import BufferCorruptError, BufferError

log = logging.getLogger(__name__)

DB_FILE = "buffer.sqlite3"
LOCK_FILE = "deliver.lock"
# Files that only exist where a store has been: SQLite's companions and our delivery lock.
TRACES = (f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal", LOCK_FILE)
# One per sink delivered by a delivery process (shippers/delivery_process/sink_lock.py): traces too.
SINK_LOCK_PATTERN = "deliver.*.lock"
# The delivery lock file holds the holder's pid, then this mark and the store schema it writes
# (a holder of schema 1 wrote its pid only).
SCHEMA_MARK = "schema="
NEW_STORE_HINT = "to start with an empty store on purpose, run `authlog run --new-store` once (it moves what is left aside)"


def check_folder(folder: Path) -> bool:
    """True when the folder never held a store (create one); False when a store is there; raise for a lost one."""
    db = folder / DB_FILE
    if db.exists():
        if db.stat().st_size == 0:
            raise BufferCorruptError(
                f"the buffer {db} is empty (0 bytes): a store that was here is lost, or the volume behind "
                f"{folder} is not mounted; it is not recreated automatically, so the loss is not hidden. "
                f"Check the volume; {NEW_STORE_HINT}"
            )
        return False
    traces = _traces(folder)
    if traces:
        raise BufferCorruptError(
            f"the buffer {db} is missing but {folder} held a store ({', '.join(traces)} still there): it was "
            "deleted, or the volume is not mounted; it is not recreated automatically, so the loss is not hidden. "
            f"Check the volume; {NEW_STORE_HINT}"
        )
    return True


def _traces(folder: Path) -> list[str]:
    """The files of TRACES (and sink locks) in the folder."""
    return [name for name in TRACES if (folder / name).exists()] + sorted(p.name for p in folder.glob(SINK_LOCK_PATTERN))


def start_fresh(folder: Path) -> Path | None:
    """Move a lost store (0-byte or missing file, its traces) aside so a new one is made; return where it went.

    None when there is nothing to move: a folder that never held a store, or a working store that
    holds no events and no dead letters (it is kept). Raises BufferError for a store holding events
    or dead letters, BufferCorruptError for one that cannot be read, and when another process uses it.
    Two runs at once take turns (a lock on the folder itself), and the delivery lock is held from
    the in-use check until the files are moved, so no run moves files another run just made.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    folder_fd = _lock_folder(folder)
    try:
        return _start_fresh_locked(folder)
    finally:
        os.close(folder_fd)  # releases the folder lock


def _lock_folder(folder: Path) -> int:
    """An exclusive flock on the folder itself (not a file in it: a new file would look like a store's trace)."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another --new-store on this folder moves files for milliseconds: wait for it
    return fd


def _start_fresh_locked(folder: Path) -> Path | None:
    db = folder / DB_FILE
    present = [DB_FILE] * (folder / DB_FILE).exists() + _traces(folder)
    if not present:
        return None
    if db.exists() and db.stat().st_size > 0:
        held = _held(db)
        if held is None:  # an SQLite file without a single table never held an event: treat it as empty
            pass
        elif held == (0, 0):
            return None
        else:
            events, dead = held
            raise BufferError(
                f"--new-store refused: {db} is a working store that holds {events} events and {dead} dead letters "
                "(events stay until every sink is done with them); start without --new-store to deliver them, "
                "or, if you mean to drop them, move the folder aside yourself"
            )
    lock_fd = _refuse_if_in_use(folder)
    try:
        aside = folder / f"replaced-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        aside.mkdir(mode=0o700)
        for name in present:
            os.replace(folder / name, aside / name)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    log.warning("--new-store: moved the lost store's files (%s) to %s; a new, empty store is created", ", ".join(present), aside)
    return aside


def try_exclusive_lock(path: Path, note: str) -> int | None:
    """An exclusive, non-blocking flock on ``path`` (created 0600) with ``note`` written in it: its fd, or None if held."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, note.encode())
    return fd


def lock_holder(folder: Path) -> tuple[str, int]:
    """(pid, schema version) written in the folder's delivery lock file by its holder ("?" when unreadable)."""
    try:
        words = (Path(folder) / LOCK_FILE).read_text().split()
    except OSError:
        words = []
    pid = words[0] if words else "?"
    schema = next((w[len(SCHEMA_MARK):] for w in words[1:] if w.startswith(SCHEMA_MARK)), "1")
    return pid, int(schema) if schema.isdigit() else 1


def _held(db: Path) -> tuple[int, int] | None:
    """(events, dead letters) of a readable store; None for an SQLite file with no tables at all."""
    try:
        conn = sqlite3.connect(db)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                return None
            if "meta" not in tables or "stats" not in tables:
                raise BufferCorruptError(f"{db} is an SQLite database but not an authlog buffer; point [buffer] path elsewhere")
            last_seq, gc_seq, dead = conn.execute("SELECT last_seq, gc_seq, dlq_events FROM stats").fetchone()
            return int(last_seq) - int(gc_seq), int(dead)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise store_fault(exc, db) from exc


def _refuse_if_in_use(folder: Path) -> int | None:
    """Take the delivery lock (returned, to hold while the files move); raise when a process delivers from the folder."""
    lock = folder / LOCK_FILE
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        pid, _ = lock_holder(folder)
        raise BufferError(f"--new-store refused: another process (pid {pid}) delivers from {folder}; stop it first") from None
    return fd
