"""One output file of the ``file`` sink: whole-batch appends, rolled back on failure, and safe rotation.

Every sender of a path in this process shares one :class:`OutputFile` (a lock per path), so
the size check, the rotation and the write of one batch are one critical section even with
``concurrency > 1`` or two sinks on one path. A second *process* on the same path is refused:
the first holder of ``.<name>.lock`` (an ``flock``, released when that process exits) is the
only writer.

An append is all or nothing: a write or fsync that fails part-way (disk full) is cut back to
the size the file had before it, so no partial line stays behind for the retry to glue onto.
A partial last line left by a crash (kill -9, power loss mid-write) is cut when a process first
takes the path over; its batch was never acknowledged and is sent again. Rotation renames the
file to ``<name>.<N>`` with N one past the highest existing index and never replaces a file.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from typing import ClassVar

log = logging.getLogger(__name__)

# Why: a torn tail is read back in pieces this big, so a 1 MiB line never needs one big read.
TAIL_CHUNK_BYTES = 64 * 1024
# Why: data files are created as an ordinary `open(..., "a")` would (the umask decides); the lock file is private.
FILE_MODE = 0o666
LOCK_MODE = 0o600


class OtherWriterError(Exception):
    """Another process holds the path's lock file."""

    def __init__(self, lock_path: str, holder: str) -> None:
        super().__init__(f"another process (pid {holder}) writes this file; it holds {lock_path}")
        self.lock_path = lock_path
        self.holder = holder


class AppendError(Exception):
    """A write or fsync failed after the batch had started to go in."""

    def __init__(self, cause: OSError, rolled_back: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.rolled_back = rolled_back  # False: the cut back failed too; it is retried before the next write


class OutputFile:
    """The process-wide state of one output path; get it with :meth:`claim`, give it back with :meth:`release`."""

    _registry: ClassVar[dict[str, OutputFile]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()
    _registry_pid: ClassVar[int] = os.getpid()

    def __init__(self, path: str) -> None:
        self.path = path
        self.folder, self.name = os.path.split(path)
        self.lock_path = os.path.join(self.folder, f".{self.name}.lock")
        self.lock = threading.Lock()  # the write + rotate critical section
        self._users = 0
        self._lock_fd: int | None = None
        self._restore: tuple[int, int, int] | None = None  # (st_dev, st_ino, size) a failed cut back still owes

    # -- sharing --------------------------------------------------------------------
    @classmethod
    def claim(cls, path: str) -> OutputFile:
        """The shared state of ``path`` (by real path), counted as used until :meth:`release`."""
        key = os.path.realpath(path)
        with cls._registry_lock:
            if cls._registry_pid != os.getpid():  # forked: the parent's locks and lock files are not ours
                cls._registry, cls._registry_pid = {}, os.getpid()
            output = cls._registry.setdefault(key, OutputFile(key))
            output._users += 1
            return output

    def release(self) -> None:
        with self._registry_lock:
            self._users -= 1
            if self._users > 0 or self._registry.get(self.path) is not self:
                return
            del self._registry[self.path]
        with self.lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # the next process may take the path over
                self._lock_fd = None

    # -- appending ------------------------------------------------------------------
    def append(self, payload: bytes, *, max_file_bytes: int, max_files: int, fsync: bool, max_line: int) -> None:
        """Append ``payload`` (whole lines) entirely or not at all, rotating first if it would pass ``max_file_bytes``."""
        with self.lock:
            os.makedirs(self.folder, exist_ok=True)
            if self._lock_fd is None:
                self._take_over(fsync, max_line)
            if self._restore is not None:
                self._finish_restore()
            fd = self._open(fsync)
            try:
                size = os.fstat(fd).st_size
                if size and size + len(payload) > max_file_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate(max_files, fsync)
                    fd = self._open(fsync)
                    size = os.fstat(fd).st_size
                self._write(fd, payload, size, fsync)
            finally:
                if fd >= 0:
                    os.close(fd)

    def _write(self, fd: int, payload: bytes, size: int, fsync: bool) -> None:
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                if written <= 0:  # a regular file never does this; stop rather than spin
                    raise OSError(errno.EIO, "the write made no progress")
                view = view[written:]
            if fsync:
                os.fsync(fd)
        except OSError as exc:
            raise AppendError(exc, self._roll_back(fd, size, fsync)) from exc

    def _roll_back(self, fd: int, size: int, fsync: bool) -> bool:
        """Cut the file back to ``size``; if that fails too, remember to do it before the next write."""
        stat = os.fstat(fd)
        try:
            os.ftruncate(fd, size)
            if fsync:
                os.fsync(fd)
        except OSError as exc:
            self._restore = (stat.st_dev, stat.st_ino, size)
            log.warning("%s: could not cut a failed write back to %d bytes (%s); trying again before the next write", self.path, size, exc.strerror)
            return False
        return True

    def _finish_restore(self) -> None:
        dev, ino, size = self._restore  # type: ignore[misc]
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._restore = None
            return
        if (stat.st_dev, stat.st_ino) == (dev, ino) and stat.st_size > size:
            os.truncate(self.path, size)  # an OSError here keeps the debt and fails this send
        self._restore = None

    def _open(self, fsync: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        try:
            return os.open(self.path, flags)
        except FileNotFoundError:
            fd = os.open(self.path, flags | os.O_CREAT, FILE_MODE)
            if fsync:
                self._sync_folder()  # the new name survives a power loss with the lines written under it
            return fd

    # -- taking the path over ---------------------------------------------------------
    def _take_over(self, fsync: bool, max_line: int) -> None:
        """Become the one process writing this path, then cut a partial line a crash left at the end."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OtherWriterError(self.lock_path, holder) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid only makes the other process's message clearer; a full disk must not stop us here
        try:
            self._cut_torn_tail(fsync, max_line)
        except BaseException:
            os.close(fd)  # not taken over: the next attempt starts again with the cut
            raise
        self._lock_fd = fd

    def _cut_torn_tail(self, fsync: bool, max_line: int) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            size = os.fstat(fd).st_size
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return
            keep = self._after_last_newline(fd, size, max_line)
            os.ftruncate(fd, keep)
            if fsync:
                os.fsync(fd)
            log.warning(
                "%s ended with %d bytes of a line cut short (a crash or power loss mid-write); removed them: "
                "their batch was not acknowledged and is sent again", self.path, size - keep,
            )
        finally:
            os.close(fd)

    def _after_last_newline(self, fd: int, size: int, max_line: int) -> int:
        end = size
        while end > 0 and size - end < max_line:
            start = max(0, end - TAIL_CHUNK_BYTES)
            found = os.pread(fd, end - start, start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            end = start
        if end == 0:
            return 0
        raise OSError(errno.EINVAL, f"the last {max_line} bytes hold no line break: not a file this sink wrote? move it away")

    # -- rotation ---------------------------------------------------------------------
    def _rotate(self, max_files: int, fsync: bool) -> None:
        indexes = self._rotated_indexes()
        index = max(indexes, default=0) + 1
        while os.path.lexists(f"{self.path}.{index}"):  # never replace a file (we hold the lock: nobody else rotates)
            index += 1
        os.rename(self.path, f"{self.path}.{index}")
        if fsync:
            self._sync_folder()
        if max_files > 0:
            for old in sorted([*indexes, index])[:-max_files]:
                try:
                    os.unlink(f"{self.path}.{old}")
                except FileNotFoundError:
                    pass
                except OSError as exc:  # pruning is housekeeping: it never fails a write
                    log.warning("%s.%d: cannot remove this old rotated file (%s)", self.path, old, exc.strerror)

    def _rotated_indexes(self) -> list[int]:
        prefix = self.name + "."
        with os.scandir(self.folder) as entries:
            return [int(e.name[len(prefix) :]) for e in entries if e.name.startswith(prefix) and e.name[len(prefix) :].isdigit()]

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
