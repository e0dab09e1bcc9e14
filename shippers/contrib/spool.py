"""The spool: a small SQLite file in the app that holds events while the sidecar is slow or down.

::

    events(seq INTEGER PRIMARY KEY, id TEXT, line BLOB)   oldest first; line = the event as posted

Every process of the app (gunicorn workers) may append to one spool file; exactly one of them
forwards it (the holder of ``<spool>.forward.lock``, an ``flock``), so no event is posted by two
forwarders at once. Appends are one short transaction each (WAL; ``synchronous=NORMAL``: an event
spooled survives the app's crash, the last ones may not survive a power cut), so workers never wait
on each other for long. The cap is SQLite's own ``max_page_count``: past ``spool_max_bytes`` an
append fails exactly as on a full disk, and the event is counted as ``spool_full``; nothing
already spooled is lost or overwritten.

A spool must not cross a fork (SQLite's rule): :meth:`forget_after_fork` lets the child drop the
parent's handles without touching them, and the child opens its own.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

from shippers.buffer.faults import SQLITE_FULL, primary_code

# Why: appends and the forwarder's deletes hold the write lock for a few ms; 250 ms rides out a
# burst from several workers, and is what a request may wait beyond the budget in the worst case.
BUSY_TIMEOUT_MS = 250
# Why: spooled events carry emails and IPs: only the app's own user may read them.
SPOOL_FILE_MODE = 0o600
# Why: SQLite's default page size; the cap is counted in pages of it.
PAGE_SIZE = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, line BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_id ON events(id);
"""

# Handles a forked child inherited: kept referenced so their finalizers never run in the child.
_inherited: list[object] = []
_open_spools: weakref.WeakSet[Spool] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for spool in list(_open_spools):
        spool.forget_after_fork()


# The child lets go of the parent's forward lock at once, not when it first spools.
os.register_at_fork(after_in_child=_forget_all_after_fork)


class SpoolError(Exception):
    """The spool could not take an event; ``reason`` is a drop reason (spool_full, spool_unavailable)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _fault(exc: sqlite3.Error, path: Path) -> SpoolError:
    if primary_code(exc) == SQLITE_FULL:
        return SpoolError("spool_full", f"the spool {path} is full (spool_max_bytes, or its disk)")
    return SpoolError("spool_unavailable", f"the spool {path} cannot be written ({type(exc).__name__})")


class Spool:
    """One process's handle on the spool file (thread-safe)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._forward_fd: int | None = None
        _open_spools.add(self)

    # -- opening ------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Created owner-only before SQLite opens it (its -wal and -shm files take the same mode): events hold PII.
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, SPOOL_FILE_MODE))
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA max_page_count = {max(1, self.max_bytes // PAGE_SIZE)}")
            except sqlite3.Error as exc:
                raise _fault(exc, self.path) from None
            except OSError as exc:
                raise SpoolError("spool_unavailable", f"the spool {self.path} cannot be opened ({exc.strerror})") from None
            self._db = db
        return self._db

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            db = self._connection()
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _fault(exc, self.path) from None

    # -- the app's side -----------------------------------------------------------
    def append(self, event_id: str, line: bytes) -> None:
        """Keep one event; raises SpoolError (full, or cannot be written): the event is then not kept."""
        self._run("INSERT INTO events (id, line) VALUES (?, ?)", (event_id, line))

    def discard(self, event_id: str) -> None:
        """Forget an event that reached the sidecar after all (a send that answered past the budget)."""
        self._run("DELETE FROM events WHERE id = ?", (event_id,))

    def count(self) -> int:
        return int(self._run("SELECT count(*) FROM events")[0][0])  # type: ignore[call-overload]

    # -- the forwarder's side -----------------------------------------------------
    def oldest(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` spooled events, oldest first, as (seq, line)."""
        rows = self._run("SELECT seq, line FROM events ORDER BY seq LIMIT ?", (limit,))
        return [(int(seq), bytes(line)) for seq, line in rows]  # type: ignore[call-overload, arg-type]

    def remove(self, seqs: Sequence[int]) -> None:
        """Forget the forwarded events ``seqs``."""
        if seqs:
            self._run(f"DELETE FROM events WHERE seq IN ({','.join('?' * len(seqs))})", list(seqs))

    def take_forward_lock(self) -> bool:
        """True when this process is (now) the one that forwards this spool."""
        with self._lock:
            if self._forward_fd is not None:
                return True
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(f"{self.path}.forward.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._forward_fd = fd
            return True

    # -- life cycle ---------------------------------------------------------------
    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's handles untouched (the parent keeps its forward lock)."""
        self._lock = threading.Lock()  # another thread of the parent may have held it at the fork
        if self._db is not None:
            _inherited.append(self._db)
            self._db = None
        if self._forward_fd is not None:
            os.close(self._forward_fd)  # the parent's copy still holds the flock; only the child's copy goes
            self._forward_fd = None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._forward_fd is not None:
                os.close(self._forward_fd)
                self._forward_fd = None
