"""Group commit: events appended by many threads at once share one transaction, each still durable when its call returns.

``emit()`` commits one event per call. Eight app threads emitting at once would each pay a whole
SQLite transaction (one writer at a time). Here the callers themselves take turns as the
committer, as databases do it (leader/follower group commit): a call queues its event; if no
call is committing, it becomes the leader, takes everything queued (its own event included, up to
MAX_GROUP_EVENTS), appends it in ONE transaction, tells each caller of that group how it went
and hands the leadership to the oldest caller still queued. Callers that arrived while a
transaction was open are committed together by the next leader, so the group grows with the load,
and no thread but the callers' is involved: an uncontended call commits on its own thread
without any hand-off, a contended one is woken exactly once (done, or made leader); the callers of
a group wake one another in turn.

Measured with 8 threads (``bench/bench_emit.py --sink none``, a shared 2-core machine): ~7.5 events
per transaction (the separate committer thread this replaced grouped 4-5, and its callers had to
wait for it to get the interpreter lock), ~3.3 instead of ~5.4 CPU s per 100k events.

Nothing is buffered past a call that returned: a call returns only after the transaction holding
its event committed, or raises that transaction's error (a full sink or store refuses the whole
group, and each caller's own ``emit_timeout`` retry loop decides for its event, as before). After
:meth:`GroupCommitter.close` each call commits on its own, one transaction per call. A forked
child starts afresh (the parent's callers do not exist there).
"""

from __future__ import annotations

import copy
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

# Why: a transaction of 1000 ~300-byte events commits in about a millisecond; a larger group would
# only make the callers queued behind it wait longer.
MAX_GROUP_EVENTS = 1000
# Why: an emit() holds the interpreter lock ~10-20 µs, so 8 threads' next events queue within
# ~0.2 ms; a leader waits this long at most for them (see GroupCommitter._gather), so no call waits
# much longer than that for callers that went elsewhere (each later group expects one fewer).
GATHER_SECONDS = 0.0003
# Why: callers of a group that emit again at once queue within one round (~0.3 ms with 8 threads);
# a leader coming more than this after the last group ended has no reason to expect them.
RECENT_SECONDS = 0.001

Item = tuple[Any, bytes]

# What a waiter is told when its lock is released (the state is written under the committer's lock).
_QUEUED, _LEAD, _DONE = 0, 1, 2


class _Waiter:
    __slots__ = ("abandoned", "error", "items", "next", "state", "wake", "woken")

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self.state = _QUEUED
        self.error: BaseException | None = None
        self.next: _Waiter | None = None  # the caller of the same group this one wakes once it runs (_pass_on)
        self.woken = False  # its wake was (or is being) released by whoever had news for it
        self.abandoned = False  # its wait was interrupted: the chain of its group skips it
        # A plain lock taken now and released once, by whoever has news for this caller: the cheapest
        # one-shot wake-up CPython has (threading.Event builds a Condition and a lock per call).
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupCommitter:
    """Funnels concurrent ``commit(items)`` calls into shared calls of ``append(all_items)``, made by the callers in turn."""

    def __init__(self, append: Callable[[Sequence[Item]], Any], *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._append = append
        self._monotonic = monotonic
        self._reset()
        # A forked child starts afresh at once, while it has one thread: its lock may have been held by a
        # parent thread that does not exist there (close() would hang on it), and a leader of the parent's
        # would never hand over there.
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (committer := me()) is not None and committer._reset())

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the last leader steps down
        self._queue: list[_Waiter] = []
        self._leading = False  # a caller is committing (or has just been made leader)
        self._expected = 1  # how many callers a leader waits for (see _gather and _commit_group)
        self._ended = 0.0  # when the last group was committed (monotonic)
        self._gathered = threading.Condition(self._lock)  # notified when as many callers as expected are queued
        self._gathering = False  # a leader waits on _gathered
        self._closed = False
        self.groups = 0  # transactions made (tests and benchmarks read the group sizes from these two)
        self.grouped = 0  # events in them

    def commit(self, items: Sequence[Item]) -> None:
        """Append ``items`` durably (in a transaction shared with concurrent callers); raises that transaction's error."""
        if self._pid != os.getpid():  # forked by C code that skips the at-fork hooks: the parent's state stayed behind
            self._reset()
        me = _Waiter(items)
        with self._lock:
            if self._closed:
                me = None  # type: ignore[assignment]
            else:
                self._queue.append(me)
                if not self._leading:
                    self._leading, me.state = True, _LEAD
                elif self._gathering and len(self._queue) >= self._expected:
                    self._gathered.notify()
        if me is None:  # after close(): commit on the caller's thread, one transaction per call
            self._append(list(items))
            return
        if me.state != _LEAD:
            self._wait(me)
            if me.state == _DONE:
                self._pass_on(me)
        if me.state == _LEAD:
            self._lead(me)
        if me.error is not None:
            raise _own_copy(me.error)

    def close(self) -> None:
        """Wait until no group is being committed (queued callers are committed first); later commits go one by one."""
        with self._lock:
            self._closed = True
            while self._leading:
                self._idle.wait()

    def _wait(self, me: _Waiter) -> None:
        """Block until ``me`` is done or made leader; if the wait is interrupted, leave the queue (or the leadership)."""
        try:
            me.wake.acquire()
        except BaseException:  # KeyboardInterrupt in the main thread: this call raises, the committer goes on
            with self._lock:
                if me.state != _DONE and me in self._queue:
                    self._queue.remove(me)  # not taken yet: never committed
                if me.state == _LEAD:
                    self._step_down()  # made leader: pass it on, or nobody would commit the queue
                # else: in a group being committed (it may well be stored, as with any interrupted write)
                # or just committed: the rest of its group must still be woken, by it or past it
                woken, me.abandoned = me.woken, not me.woken
            if woken and me.state == _DONE:
                self._pass_on(me)
            raise

    def _lead(self, me: _Waiter) -> None:
        """Commit groups from the front of the queue until ``me`` is done, then hand the leadership on."""
        try:
            while me.state != _DONE:
                with self._lock:
                    self._gather()
                    group = _take(self._queue)
                self._commit_group(group, me)
                del group  # this frame must not keep the group's events (see _commit_group)
        finally:
            with self._lock:
                if me.state != _DONE and me in self._queue:  # interrupted before its own group: it leaves
                    self._queue.remove(me)
                self._step_down()

    def _commit_group(self, group: list[_Waiter], leader: _Waiter) -> None:
        """Append the group's items in one transaction, tell each caller how it went, wake the first of them.

        The callers are woken one after another, each by the one before it (``_pass_on``), not all
        at once by the leader: eight threads woken together only queue again for the interpreter
        lock, and the leader paid each one's wake-up while holding it (~10-15 % more time per event
        with 8 threads in bench_emit --sink none).
        """
        error: BaseException | None = None
        try:
            self._append([item for waiter in group for item in waiter.items])
        except BaseException as exc:  # every caller of this transaction gets its error (a copy of it: _own_copy)
            _drop_frames(exc)
            error = exc
        head = _Waiter(())  # the chain's start: the leader passes on from it
        with self._lock:
            self.groups += 1
            self.grouped += sum(len(waiter.items) for waiter in group)
            # The target shrinks by one caller per group, not to the last group's size: a group cut
            # short (a caller descheduled past GATHER_SECONDS on a busy machine, a leader coming after
            # RECENT_SECONDS) made the next leaders wait for nobody, and groups of one stayed common
            # (8-11 % of the transactions with 8 threads in bench_emit --sink file-process; 1-2 % this way).
            self._expected = max(len(group), self._expected - 1)
            self._ended = self._monotonic()
            last = head
            for waiter in group:
                waiter.error, waiter.state = error, _DONE
                if waiter is not leader and not waiter.abandoned:
                    last.next = last = waiter
        self._pass_on(head)

    def _pass_on(self, waiter: _Waiter) -> None:
        """Wake the next caller of ``waiter``'s group (those whose wait was interrupted are skipped)."""
        with self._lock:
            following = waiter.next
            while following is not None and following.abandoned:
                following = following.next
            if following is not None:
                following.woken = True
        if following is not None:
            following.wake.release()

    def _gather(self) -> None:
        """(Lock held.) Wait (GATHER_SECONDS at most) until as many callers are queued as expected (about the last group).

        The callers of the last group were just woken and are likely to emit again at once; without
        this wait the thread holding the interpreter lock commits alone, call after call, while the
        others wait for the lock (up to sys.getswitchinterval(), 5 ms) and each commit holds one
        event. Waiting releases the interpreter lock, so they run, validate and queue. PostgreSQL's
        commit_delay / commit_siblings is the same idea. The target is the last group's size, or one
        fewer than the last target if that is more (one short group does not reset it), so a caller
        left alone waits a few times at most; an uncontended caller never waits, nor a leader that
        comes long after the last group (RECENT_SECONDS): its callers went elsewhere.
        """
        if len(self._queue) >= self._expected or self._monotonic() - self._ended > RECENT_SECONDS:
            return
        self._gathering = True
        try:
            self._gathered.wait(GATHER_SECONDS)  # returns early once enough callers queued
        finally:
            self._gathering = False

    def _step_down(self) -> None:
        """(Lock held.) Make the oldest queued caller the leader, or mark that nobody leads."""
        if self._queue:
            successor = self._queue[0]
            successor.state = _LEAD
            successor.wake.release()
        else:
            self._leading = False
            self._idle.notify_all()


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
    """Clear the tracebacks of ``exc`` and of its causes: their frames (the leader's) hold every caller's events."""
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
