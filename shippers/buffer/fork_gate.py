"""No fork while a thread is inside SQLite: a child forked then inherits SQLite's locks held and hangs.

A gunicorn worker forked while the parent's sink thread is in the middle of a store call gets
SQLite's internal mutexes locked by a thread that does not exist in the child; its first
``sqlite3.connect`` then waits forever (seen in the Django fork test). Every store call enters
this gate; ``os.register_at_fork`` makes a fork wait until no call is inside, and holds new calls
back until it is done. A call made from inside another (nested) never waits.
"""

from __future__ import annotations

import os
import threading

_cond = threading.Condition()
_inside = 0
_forking = False
_depth = threading.local()


def enter() -> None:
    global _inside
    depth = getattr(_depth, "n", 0)
    _depth.n = depth + 1
    if depth:
        return
    with _cond:
        while _forking:
            _cond.wait()
        _inside += 1


def leave() -> None:
    global _inside
    _depth.n -= 1
    if _depth.n:
        return
    with _cond:
        _inside -= 1
        if not _inside:
            _cond.notify_all()


def _before_fork() -> None:
    global _forking
    _cond.acquire()
    _forking = True
    while _inside:
        _cond.wait()


def _after_in_parent() -> None:
    global _forking
    _forking = False
    _cond.notify_all()
    _cond.release()


def _after_in_child() -> None:
    global _cond, _inside, _forking, _depth
    _cond, _inside, _forking, _depth = threading.Condition(), 0, False, threading.local()


os.register_at_fork(before=_before_fork, after_in_parent=_after_in_parent, after_in_child=_after_in_child)
