"""Group commit: events appended by many threads at once share one transaction, each still durable when its call returns.

``emit()`` commits one event per call. Eight app threads emitting at once would each pay a whole
SQLite transaction (~50 µs, one writer at a time). Here each call queues its event and waits; one
committer thread takes everything queued when it is free, appends it in ONE transaction and tells
each waiting caller how it went. Measured with 8 threads emitting (``bench/bench_emit.py``): about
4-5 events per transaction instead of 1, and 30 instead of 38 CPU µs per event.

Nothing is buffered past a call that returned: a call returns only after the transaction holding
its event committed, or raises that transaction's error (a full sink or store refuses the whole
group, and each caller's own ``emit_timeout`` retry loop decides for its event, as before). The
committer starts on the first commit (and again in a forked child, where it does not exist: the
child's committer state is new from the fork on) and ends at :meth:`GroupCommitter.close`.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

# Why: a transaction of 1000 ~300-byte events commits in about a millisecond; a larger group would
# only make the callers queued behind it wait longer.
MAX_GROUP_EVENTS = 1000

Item = tuple[Any, bytes]


class _Waiter:
    __slots__ = ("error", "items", "wake")

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self.wake = threading.Event()  # set once the transaction holding these items ended
        self.error: BaseException | None = None


class GroupCommitter:
    """Funnels concurrent ``commit(items)`` calls into shared calls of ``append(all_items)`` on one committer thread."""

    def __init__(self, append: Callable[[Sequence[Item]], Any]) -> None:
        self._append = append
        self._reset()
        # A forked child starts afresh at once, while it has one thread: its lock may have been held by a
        # parent thread that does not exist there (close() would hang on it), and two of its threads
        # noticing the fork in commit() could each reset and lose the other's queued call.
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (committer := me()) is not None and committer._reset())

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: list[_Waiter] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def commit(self, items: Sequence[Item]) -> None:
        """Append ``items`` durably (in a transaction shared with concurrent callers); raises that transaction's error."""
        if self._pid != os.getpid():  # forked by C code that skips the at-fork hooks: the committer stayed behind
            self._reset()
        me = _Waiter(items)
        with self._cond:
            if self._closed:  # after close(): commit on the caller's thread, one transaction per call
                me = None  # type: ignore[assignment]
            else:
                self._queue.append(me)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="authlog-emit-commit", daemon=True)
                    self._thread.start()
                self._cond.notify()
        if me is None:
            self._append(list(items))
            return
        me.wake.wait()
        if me.error is not None:
            raise _own_copy(me.error)

    def close(self) -> None:
        """Let the committer finish what is queued and end; later commits run on their caller's thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return  # closed and nothing left
                group = _take(self._queue)
            try:
                self._append([item for waiter in group for item in waiter.items])
            except BaseException as exc:  # every caller of this transaction gets its error (a copy of it: _own_copy)
                _drop_frames(exc)
                for waiter in group:
                    waiter.error = exc
            for waiter in group:
                waiter.wake.set()


def _take(queue: list[_Waiter]) -> list[_Waiter]:
    """Remove and return the oldest waiters holding at most MAX_GROUP_EVENTS events (at least one waiter)."""
    count, taken = 0, 0
    for waiter in queue:
        if taken and count + len(waiter.items) > MAX_GROUP_EVENTS:
            break
        count += len(waiter.items)
        taken += 1
    group = queue[:taken]
    del queue[:taken]
    return group


def _drop_frames(exc: BaseException) -> None:
    """Clear the tracebacks of ``exc`` and of its causes: their frames (the committer's) hold every caller's events."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        todo += [current.__cause__, current.__context__]


def _own_copy(exc: BaseException) -> BaseException:
    """A copy of a group's error for one caller, with the same fields and causes.

    Raised as one object in every caller, its traceback would grow with each caller's frames (an
    error reporter that captures frame locals would show one user's event in another's report).
    """
    try:
        mine = copy.copy(exc)  # class, args and fields (retry_after, sink, kind); no traceback
    except Exception:  # a class that cannot be rebuilt from its args: the shared one, frames dropped
        return exc
    mine.__cause__, mine.__context__, mine.__suppress_context__ = exc.__cause__, exc.__context__, exc.__suppress_context__
    return mine
