"""SQLite's failures, translated into the core's store errors: what went wrong, on which file, what to do.

::

    SQLITE_FULL      (13)        -> BufferFullError(kind="disk_full")     the disk (or the file system quota) is full
    SQLITE_READONLY  (8)         -> BufferUnavailableError("read_only")   file, folder or volume refuses writes
    SQLITE_IOERR     (10, 10|x<<8) -> BufferUnavailableError("io_error")  the disk or volume failed an operation
    SQLITE_BUSY/LOCKED (5, 6)    -> BufferUnavailableError("locked")      another writer held the lock past busy_timeout
    SQLITE_CANTOPEN  (14)        -> BufferUnavailableError("cannot_open") the folder went away (unmounted volume?)
    SQLITE_CORRUPT/NOTADB (11, 26) -> BufferCorruptError                  damaged: never recreated automatically
    anything else                -> BufferUnavailableError("other")

The first four are conditions that end by themselves or by an operator's hand (space freed, volume
remounted read-write), so producers are told to retry (503 + Retry-After) and the sink workers
wait and resume; none of them loses an acknowledged event, because a failed transaction stores
nothing. Errors without a code (raised by hand, older SQLite) are recognised by SQLite's wording.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shippers.errors import BufferCorruptError, BufferError, BufferFullError, BufferUnavailableError

# Why: space is freed by a person or by the sinks draining; asking producers back every 5 s keeps
# the retry traffic low without stalling them long once space returns.
DISK_FULL_RETRY_AFTER_SECONDS = 5.0
# Why: a read-only or failing volume needs an operator: the same gentle pace as a full disk.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5.0
# Why: a lock past busy_timeout is held by a stuck writer; a second later it is usually gone.
LOCKED_RETRY_AFTER_SECONDS = 1.0

SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR = 5, 6, 8, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 13, 14, 26

# SQLite's own wording, for errors that carry no code.
_WORDING = [
    ("disk is full", SQLITE_FULL),
    ("readonly database", SQLITE_READONLY),
    ("disk i/o error", SQLITE_IOERR),
    ("is locked", SQLITE_BUSY),
    ("unable to open database", SQLITE_CANTOPEN),
    ("malformed", SQLITE_CORRUPT),
    ("not a database", SQLITE_NOTADB),
]


def primary_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code (extended codes carry it in the low byte), else guessed from the wording."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    return next((value for words, value in _WORDING if words in text), None)


def store_fault(exc: sqlite3.Error, path: Path) -> BufferError:
    """The store error for ``exc`` raised on the store file ``path``."""
    code = primary_code(exc)
    if code == SQLITE_FULL:
        return BufferFullError(
            f"the store's disk is full: {path} ({exc}); free space on that disk or move [buffer] path to a "
            "larger one: writes resume by themselves once there is room",
            DISK_FULL_RETRY_AFTER_SECONDS, kind="disk_full",
        )
    if code == SQLITE_READONLY:
        return BufferUnavailableError(
            f"the store is read-only: {path} ({exc}); check that its volume is mounted read-write and that the "
            "shipper's user owns the file and its folder: writes resume by themselves once it is writable",
            UNAVAILABLE_RETRY_AFTER_SECONDS, kind="read_only",
        )
    if code == SQLITE_IOERR:
        return BufferUnavailableError(
            f"I/O error on the store {path} ({exc}); check the disk or volume (the kernel log says more): "
            "the shipper keeps retrying",
            UNAVAILABLE_RETRY_AFTER_SECONDS, kind="io_error",
        )
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return BufferUnavailableError(
            f"the store {path} is locked by another writer for too long ({exc}); retry shortly; if it lasts, "
            "look for a process keeping a transaction open on it",
            LOCKED_RETRY_AFTER_SECONDS, kind="locked",
        )
    if code == SQLITE_CANTOPEN:
        return BufferUnavailableError(
            f"the store {path} cannot be opened ({exc}); check that its folder exists and its volume is mounted",
            UNAVAILABLE_RETRY_AFTER_SECONDS, kind="cannot_open",
        )
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return corrupt(exc, path)
    return BufferUnavailableError(f"the store {path} failed: {exc}", UNAVAILABLE_RETRY_AFTER_SECONDS, kind="other")


def corrupt(exc: Exception, path: Path) -> BufferCorruptError:
    return BufferCorruptError(
        f"the buffer {path} cannot be read ({exc}); it is not recreated automatically. "
        "Move the folder aside to start with an empty buffer, or restore it from a backup."
    )


def is_store_error(exc: BaseException) -> bool:
    """True for failures of the store itself (translated or raw SQLite), as opposed to adapter or code bugs."""
    return isinstance(exc, BufferError | sqlite3.Error)
