"""The fork gate: a fork waits until no thread is inside a store call (a child then never inherits SQLite's locks held)."""

from __future__ import annotations

import os
import threading

from shippers.buffer import fork_gate


def test_a_fork_waits_for_the_store_call_in_progress() -> None:
    """A thread inside a store call when another forks: the fork happens only after that call left the gate."""
    entered, release = threading.Event(), threading.Event()
    order: list[str] = []

    def store_call() -> None:
        fork_gate.enter()
        entered.set()
        release.wait(10)
        order.append("left")
        fork_gate.leave()

    holder = threading.Thread(target=store_call)
    holder.start()
    entered.wait(10)
    threading.Timer(0.05, release.set).start()  # lets the call end while the fork waits for it
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    order.append("forked")
    os.waitpid(pid, 0)
    holder.join(10)
    assert order == ["left", "forked"]


def test_a_nested_store_call_never_waits() -> None:
    """A call made from inside another enters and leaves without blocking (no deadlock with a pending fork)."""
    fork_gate.enter()
    fork_gate.enter()
    fork_gate.leave()
    fork_gate.leave()
    assert fork_gate._inside == 0
