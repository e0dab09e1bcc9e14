"""One exclusive ``flock`` per sink in the store folder: a sink has exactly one delivering owner at a time.

The store's delivery lock (``deliver.lock``) names the process that *supervises* delivery; with
delivery processes the sending is done by its children. A child of an earlier sidecar may still
be alive for a moment after its parent died (``PR_SET_PDEATHSIG`` is a signal, delivered when the
child next leaves the kernel), so each child also holds ``deliver.<sink>.lock`` for each of its
sinks while it delivers, and the parent's own sink threads take theirs whenever such files exist.
The kernel drops a flock with its process, even on ``kill -9``. A lock file deleted or replaced
under its holder no longer keeps anyone out; the child checks (:meth:`SinkLock.still_guards`) at
every report and exits when it does not, so its sinks are taken again through a fresh lock.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from shippers.buffer.presence import SINK_LOCK_PATTERN, try_exclusive_lock

# Why: how often a waiting owner tries again; a dying owner lets go within milliseconds.
RETRY_SECONDS = 0.05


def sink_lock_path(folder: Path, sink: str) -> Path:
    """Sink names are ``[a-z0-9_-]+`` (config.SINK_NAME): safe in a file name, and never ``deliver.lock``'s."""
    return Path(folder) / f"deliver.{sink}.lock"


def any_sink_locks(folder: Path) -> bool:
    """Whether delivery processes ever ran on this store (its sink lock files exist)."""
    return any(Path(folder).glob(SINK_LOCK_PATTERN))


class SinkLock:
    """The flock of one sink; :meth:`acquire` waits for an earlier owner to let go."""

    def __init__(self, folder: Path, sink: str) -> None:
        self.path = sink_lock_path(folder, sink)
        self.sink = sink
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self._fd = try_exclusive_lock(self.path, f"{os.getpid()}\n")
        return self._fd is not None

    def acquire(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds for its holder to end; False if it did not."""
        stop = stop or threading.Event()
        waited = 0.0
        while not self.try_acquire():
            if waited >= timeout or stop.wait(RETRY_SECONDS):
                return False
            waited += RETRY_SECONDS
        return True

    def still_guards(self) -> bool:
        """Whether the held flock is still on the file at :attr:`path` (an operator may delete or replace it:
        the flock then guards a file nobody else opens, and a new owner would lock a new one beside it)."""
        if self._fd is None:
            return False
        try:
            held, there = os.fstat(self._fd), os.stat(self.path)
        except OSError:
            return False
        return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)

    def holder(self) -> str:
        """The pid written by the holder ("?" when unreadable)."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
