"""Group commit: concurrent emit() calls share transactions, each durable when it returns, each told its group's fate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shippers.errors import BufferFullError
from shippers.group_commit import MAX_GROUP_EVENTS, GroupCommitter
from shippers.shipper import Shipper
from shippers.testing.waiting import wait_for


class _Store:
    """An append that records each transaction and can be held open (so callers queue behind it)."""

    def __init__(self) -> None:
        self.transactions: list[list[Any]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail_next: BaseException | None = None

    def append(self, items: Sequence[Any]) -> None:
        self.entered.set()
        self.hold.wait()
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.transactions.append(list(items))


def _start(committer: GroupCommitter, names: list[str], errors: dict[str, BaseException]) -> list[threading.Thread]:
    def call(name: str) -> None:
        try:
            committer.commit([(name, b"")])
        except BaseException as exc:
            errors[name] = exc

    threads = [threading.Thread(target=call, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    return threads


def _queued(committer: GroupCommitter, n: int) -> bool:
    return len(committer._queue) == n


def _held_then_queued(
    names: list[str], monotonic: Callable[[], float] = time.monotonic
) -> tuple[_Store, GroupCommitter, dict[str, BaseException], list[threading.Thread]]:
    """A committer whose first transaction (caller "a") is held open, with ``names`` queued behind it."""
    store = _Store()
    committer = GroupCommitter(store.append, monotonic=monotonic)
    store.hold.clear()
    errors: dict[str, BaseException] = {}
    first = _start(committer, ["a"], errors)
    store.entered.wait(5)
    rest = _start(committer, names, errors)
    wait_for(lambda: _queued(committer, len(names)), f"{len(names)} callers queued behind the open transaction")
    return store, committer, errors, first + rest


def test_callers_queued_behind_a_commit_share_the_next_transaction() -> None:
    """While the first transaction is held open, 7 more callers queue; all 7 are then committed in one transaction, none lost."""
    store, _, errors, threads = _held_then_queued([f"t{i}" for i in range(7)])
    store.hold.set()
    for thread in threads:
        thread.join(5)
    assert errors == {}
    assert store.transactions[0] == [("a", b"")]
    assert sorted(name for name, _ in store.transactions[1]) == [f"t{i}" for i in range(7)]
    assert len(store.transactions) == 2


def test_a_failed_transaction_fails_exactly_its_callers() -> None:
    """A BufferFullError of one group is raised in each of its callers; the next group's callers commit."""
    store, committer, errors, threads = _held_then_queued(["b", "c"])
    full = BufferFullError("sink 'x' is full", sink="x")
    store.fail_next = full
    store.hold.set()
    for thread in threads:
        thread.join(5)
    assert list(errors) == ["a"]  # the held transaction was the one that failed
    assert type(errors["a"]) is BufferFullError and (str(errors["a"]), errors["a"].sink) == (str(full), "x")
    assert sorted(name for name, _ in store.transactions[0]) == ["b", "c"]
    later = _start(committer, ["d"], errors)
    later[0].join(5)
    assert "d" not in errors and store.transactions[-1] == [("d", b"")]


def test_a_group_holds_at_most_max_group_events() -> None:
    """Callers queued with more events than MAX_GROUP_EVENTS in all are committed in several transactions, in order."""
    store = _Store()
    committer = GroupCommitter(store.append)
    store.hold.clear()
    done: list[int] = []
    first = threading.Thread(target=committer.commit, args=([("first", b"")],))
    first.start()
    store.entered.wait(5)
    half = MAX_GROUP_EVENTS // 2 + 1
    threads = [threading.Thread(target=lambda i=i: (committer.commit([(i, b"")] * half), done.append(i))) for i in range(3)]
    for queued, thread in enumerate(threads, 1):
        thread.start()
        wait_for(lambda n=queued: _queued(committer, n), f"{queued} big callers queued, in order")
    store.hold.set()
    first.join(5)
    for thread in threads:
        thread.join(5)
    assert sorted(done) == [0, 1, 2]
    assert all(len(t) <= MAX_GROUP_EVENTS for t in store.transactions)
    assert len(store.transactions) == 4  # the first, then one per big caller (two would pass the cap)


def test_emit_from_eight_threads_stores_every_event(tmp_path: Path) -> None:
    """8 threads x 200 emit() calls through the real store: every event is stored exactly once, each append counted once."""
    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"f": {"type": "file", "path": str(tmp_path / "o")}}})
    appends: list[int] = []
    real_append = shipper.buffer.append

    def counting(events: Any, **kwargs: Any) -> Any:
        appends.append(len(events))
        return real_append(events, **kwargs)

    shipper.buffer.append = counting  # type: ignore[method-assign]
    try:
        def work(t: int) -> None:
            for i in range(200):
                shipper.emit("login.completed", userId=f"u-{t}-{i}")

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert shipper.buffer.stats()["events"] == 1600
        assert sum(appends) == 1600
    finally:
        shipper.close(1.0)


def test_a_forked_child_commits_without_the_parents_committer(tmp_path: Path) -> None:
    """In a child forked after a commit, commit() starts its own committer instead of waiting on one left in the parent."""
    import os

    store = _Store()
    committer = GroupCommitter(store.append)
    committer.commit([("parent", b"")])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one commit, then report how many transactions it saw
        try:
            committer.commit([("child", b"")])
            os.write(write, str(len(store.transactions)).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    assert answer == b"2"  # the parent's one, and the child's own


def test_after_close_commits_run_on_the_callers_thread() -> None:
    """close() waits for the group being committed; a later commit still commits, one transaction per call."""
    store = _Store()
    committer = GroupCommitter(store.append)
    store.hold.clear()
    errors: dict[str, BaseException] = {}
    first = _start(committer, ["a"], errors)
    store.entered.wait(5)
    closer = threading.Thread(target=committer.close)
    closer.start()
    wait_for(lambda: committer._closed, "close() called while the first transaction is open")
    assert closer.is_alive()  # it waits for the open transaction
    store.hold.set()
    closer.join(5)
    first[0].join(5)
    assert not closer.is_alive() and store.transactions == [[("a", b"")]]
    committer.commit([("b", b"")])
    assert store.transactions == [[("a", b"")], [("b", b"")]] and errors == {}


def test_an_uncontended_commit_runs_on_the_callers_own_thread() -> None:
    """A caller alone commits on its own thread (no committer thread, no hand-off) and never waits to gather others."""
    threads: list[threading.Thread] = []
    committer = GroupCommitter(lambda items: threads.append(threading.current_thread()))
    waits: list[float | None] = []
    real_wait = committer._gathered.wait
    committer._gathered.wait = lambda timeout=None: waits.append(timeout) or real_wait(timeout)  # type: ignore[method-assign]
    before = threading.active_count()
    for i in range(3):
        committer.commit([(i, b"")])
    assert threads == [threading.current_thread()] * 3
    assert threading.active_count() == before and waits == []


def test_the_oldest_queued_caller_leads_the_next_group_on_its_own_thread() -> None:
    """When a transaction ends, the oldest caller queued behind it is made leader and commits the next group itself."""
    store = _Store()
    committers: list[str] = []
    real_append = store.append
    store_append = lambda items: (committers.append(threading.current_thread().name), real_append(items))  # noqa: E731
    committer = GroupCommitter(store_append)
    store.hold.clear()
    errors: dict[str, BaseException] = {}
    first = _start(committer, ["a"], errors)
    store.entered.wait(5)
    second = _start(committer, ["b"], errors)
    wait_for(lambda: _queued(committer, 1), "b queued behind the open transaction")
    third = _start(committer, ["c"], errors)
    wait_for(lambda: _queued(committer, 2), "c queued behind b")
    store.hold.set()
    for thread in first + second + third:
        thread.join(5)
    assert committers == [first[0].name, second[0].name]  # b led the group of b and c
    assert store.transactions[1] == [("b", b""), ("c", b"")] and errors == {}


def test_a_leader_gathers_as_many_callers_as_the_last_group_had(monkeypatch: Any) -> None:
    """After a group of 3, the next leader waits (up to GATHER_SECONDS) until 3 callers are queued: one transaction for
    3 callers that arrive one after another, where a leader that did not wait would have committed the first alone."""
    from shippers import group_commit

    monkeypatch.setattr(group_commit, "GATHER_SECONDS", 60.0)  # the wait ends when the callers are queued, not on time
    store, committer, errors, threads = _held_then_queued(["b", "c", "d"], monotonic=lambda: 100.0)  # the clock stands still
    store.hold.set()
    for thread in threads:
        thread.join(5)
    assert [len(t) for t in store.transactions] == [1, 3]
    lone = _start(committer, ["e"], errors)
    wait_for(lambda: committer._gathering, "e leads and waits for more callers")
    late = _start(committer, ["f"], errors)
    wait_for(lambda: _queued(committer, 2), "f queued")
    assert committer._gathering  # 2 of 3: still waiting
    last = _start(committer, ["g"], errors)
    for thread in lone + late + last:
        thread.join(5)
    assert sorted(name for name, _ in store.transactions[2]) == ["e", "f", "g"] and len(store.transactions) == 3
    assert errors == {}


def test_one_short_group_lowers_the_next_leaders_target_by_one_caller_only(monkeypatch: Any) -> None:
    """After a group of 3, a caller committing alone (it came after RECENT_SECONDS) leaves a target of 2, not 1: the
    next leader still waits for a second caller and commits both in one transaction, where a target reset to the
    short group's size would have committed each alone."""
    from shippers import group_commit

    monkeypatch.setattr(group_commit, "GATHER_SECONDS", 60.0)  # the wait ends when the callers are queued, not on time
    now = [100.0]
    store, committer, errors, threads = _held_then_queued(["b", "c", "d"], monotonic=lambda: now[0])
    store.hold.set()
    for thread in threads:
        thread.join(5)
    assert [len(t) for t in store.transactions] == [1, 3]
    now[0] += 1.0  # long after that group: this caller does not wait, and commits alone
    committer.commit([("late", b"")])
    assert store.transactions[-1] == [("late", b"")] and committer._expected == 2
    first = _start(committer, ["e"], errors)  # right after the lone commit (the clock stands still): e waits for one more
    wait_for(lambda: committer._gathering, "e leads and waits for a second caller")
    second = _start(committer, ["f"], errors)
    for thread in first + second:
        thread.join(5)
    assert sorted(name for name, _ in store.transactions[-1]) == ["e", "f"] and len(store.transactions) == 4
    assert errors == {}


def test_a_leader_long_after_the_last_group_does_not_wait_for_its_callers(monkeypatch: Any) -> None:
    """After a group of 3, a caller coming more than RECENT_SECONDS later (on the injected clock) commits at once,
    alone: the callers of that group went elsewhere, so waiting for them would only delay it."""
    from shippers import group_commit

    monkeypatch.setattr(group_commit, "GATHER_SECONDS", 60.0)  # a wait would hold the test for a minute
    now = [100.0]
    store = _Store()
    committer = GroupCommitter(store.append, monotonic=lambda: now[0])
    store.hold.clear()
    errors: dict[str, BaseException] = {}
    first = _start(committer, ["a"], errors)
    store.entered.wait(5)
    group = _start(committer, ["b", "c", "d"], errors)
    wait_for(lambda: _queued(committer, 3), "three callers queued behind the open transaction")
    store.hold.set()
    for thread in first + group:
        thread.join(5)
    waits: list[float | None] = []
    committer._gathered.wait = lambda timeout=None: waits.append(timeout) or False  # type: ignore[method-assign]
    now[0] += 1.0
    committer.commit([("late", b"")])
    assert waits == [] and store.transactions[-1] == [("late", b"")] and errors == {}


def test_a_failed_group_fails_every_caller_of_it_and_only_those() -> None:
    """A group of two whose transaction fails raises in both callers; the callers before and after it commit."""
    store = _Store()
    failing = {"b", "c"}

    def append(items: Sequence[Any]) -> None:
        if {name for name, _ in items} & failing:
            raise BufferFullError("the store's disk is full", retry_after=2.0, kind="disk_full")
        store.append(items)

    committer = GroupCommitter(append)
    store.hold.clear()
    errors: dict[str, BaseException] = {}
    first = _start(committer, ["a"], errors)
    store.entered.wait(5)
    group = _start(committer, ["b", "c"], errors)
    wait_for(lambda: _queued(committer, 2), "b and c queued behind a")
    store.hold.set()
    for thread in first + group:
        thread.join(5)
    after = _start(committer, ["d"], errors)
    after[0].join(5)
    assert sorted(errors) == ["b", "c"] and all(isinstance(e, BufferFullError) for e in errors.values())
    assert errors["b"] is not errors["c"]
    assert store.transactions == [[("a", b"")], [("d", b"")]]


def test_an_interrupted_wait_leaves_the_queue_or_passes_the_leadership_on() -> None:
    """A queued caller whose wait is interrupted (KeyboardInterrupt) is taken off the queue and never committed; one
    interrupted just after being made leader hands the leadership to the next caller, so the queue is not stranded."""
    from shippers.group_commit import _LEAD, _Waiter

    class _Interrupted:
        def acquire(self) -> bool:
            raise KeyboardInterrupt

    store = _Store()
    committer = GroupCommitter(store.append)
    gone = _Waiter([("gone", b"")])
    gone.wake = _Interrupted()  # type: ignore[assignment]
    committer._queue.append(gone)
    committer._leading = True  # as if another caller were committing
    try:
        committer._wait(gone)
    except KeyboardInterrupt:
        pass
    assert committer._queue == []

    promoted, next_in_line = _Waiter([("promoted", b"")]), _Waiter([("next", b"")])
    promoted.wake = _Interrupted()  # type: ignore[assignment]
    promoted.state = _LEAD
    committer._queue += [promoted, next_in_line]  # made leader at the queue's front, as _step_down does
    try:
        committer._wait(promoted)
    except KeyboardInterrupt:
        pass
    assert committer._queue == [next_in_line] and next_in_line.state == _LEAD
    assert next_in_line.wake.acquire(timeout=5)  # woken to lead


def test_a_child_forked_while_the_committers_lock_was_held_can_close_and_commit() -> None:
    """A child forked while a parent thread held the committer's lock (a caller queueing, the committer taking its group)
    neither hangs in close() (atexit's shutdown in a gunicorn worker) nor in commit(): its committer is new from the fork on."""
    import os

    store = _Store()
    committer = GroupCommitter(store.append)
    committer.commit([("parent", b"")])
    read, write = os.pipe()
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:  # as another parent thread holds it at the moment of the fork
        with committer._lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: the thread holding the lock does not exist here, so nothing will release it
        try:
            committer.close()
            committer.commit([("child", b"")])
            os.write(write, str(len(store.transactions)).encode())
        finally:
            os._exit(0)
    release.set()
    holder.join(5)
    os.close(write)
    done: list[int] = []
    wait_for(lambda: done.append(os.waitpid(pid, os.WNOHANG)[0]) or done[-1] == pid or _gave_up(pid, done),
             "the forked child ends")
    answer = os.read(read, 16)
    os.close(read)
    assert done[-1] == pid and answer == b"2"  # the parent's one, and the child's own


def _gave_up(pid: int, done: list[int]) -> bool:
    """After ~2 s of a hung child, kill it (the test then fails on its empty answer)."""
    import os
    import signal

    if len(done) < 400:  # Why: 400 polls of wait_for's 5 ms: the child needs milliseconds
        return False
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    done.append(pid)
    return True


def _frames_reachable(exc: BaseException) -> list[Any]:
    """Every frame of ``exc``'s traceback and of the tracebacks of its causes and contexts."""
    frames, seen, todo = [], set(), [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        todo += [current.__cause__, current.__context__]
    return frames


def test_a_failed_group_shows_each_caller_only_its_own_event() -> None:
    """Each caller of a failed transaction gets its own error whose tracebacks hold none of the other callers' events
    (an error reporter capturing frame locals, as Sentry does by default, would put one user's login in another's report)."""
    hold, entered = threading.Event(), threading.Event()

    def append(items: Sequence[Any]) -> None:  # like Shipper._commit: its frame holds every event of the group
        entered.set()
        hold.wait(5)
        if len(items) > 1:
            try:
                raise OSError("disk I/O error")
            except OSError as cause:
                raise BufferFullError("the store's disk is full", retry_after=2.0, kind="disk_full") from cause

    committer = GroupCommitter(append)
    errors: dict[str, BaseException] = {}
    first = _start(committer, ["first"], errors)
    entered.wait(5)
    group = _start(committer, ["alice@example.com", "bob@example.com"], errors)
    wait_for(lambda: _queued(committer, 2), "two callers queued behind the open transaction")
    hold.set()
    for thread in first + group:
        thread.join(5)
    alice, bob = errors["alice@example.com"], errors["bob@example.com"]
    assert alice is not bob
    for error, other in ((alice, "bob@example.com"), (bob, "alice@example.com")):
        assert isinstance(error, BufferFullError) and (error.retry_after, error.kind) == (2.0, "disk_full")
        assert str(error) == "the store's disk is full" and isinstance(error.__cause__, OSError)  # the diagnosis is kept
        for frame in _frames_reachable(error):
            shown = {name: value for name, value in frame.f_locals.items() if name != "errors"}  # the test's own results
            assert other not in repr(shown), frame.f_code.co_name


def test_the_callers_of_a_group_wake_one_another_and_skip_one_whose_wait_was_interrupted() -> None:
    """A committed group's callers are woken in turn, each by the one before; one whose wait was interrupted while
    its group was being committed is skipped, so the callers after it are still woken (none left waiting forever)."""
    from shippers.group_commit import _DONE, _Waiter

    class _Interrupted:
        def acquire(self) -> bool:
            raise KeyboardInterrupt

        def release(self) -> None:
            raise AssertionError("an interrupted caller must not be woken: nobody waits on it")

    store = _Store()
    committer = GroupCommitter(store.append)
    leader, first, gone, last = (_Waiter([(name, b"")]) for name in ("leader", "first", "gone", "last"))
    gone.wake = _Interrupted()  # type: ignore[assignment]
    committer._leading = True
    try:
        committer._wait(gone)  # taken into a group already (not queued): interrupted while it is committed
    except KeyboardInterrupt:
        pass
    committer._commit_group([leader, first, gone, last], leader)
    assert store.transactions == [[("leader", b""), ("first", b""), ("gone", b""), ("last", b"")]]
    assert {w.state for w in (leader, first, gone, last)} == {_DONE}
    assert first.wake.acquire(timeout=5) and last.wake.locked()  # the leader wakes only the first
    committer._pass_on(first)  # what first does once it runs
    assert last.wake.acquire(timeout=5)
