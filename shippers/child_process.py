"""What every child process of the sidecar does first: die with its parent, and leave shutdown to it.

Shared by the ingest process (:mod:`shippers.sidecar.ingest_child`) and the delivery processes
(:mod:`shippers.delivery_process.child`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection

from shippers.code_identity import CODE_CHANGED_EXIT, CodeChanged, parent_identity

# The sidecar's log line; a child's lines go to the same stderr in the same shape.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Why: prctl(2) option numbers from <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


def start_child(module: str) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """``module`` as ``python -m module FD PARENT_PID``, through :mod:`shippers.child_entry` (it first checks that the
    installed code is this process's), the other end of a socket pair as FD; (the process, this end)."""
    parent_end, child_end = socket.socketpair()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shippers.child_entry", parent_identity(), module, str(child_end.fileno()), str(os.getpid())],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL,
        )
    except BaseException:
        parent_end.close()
        raise
    finally:
        child_end.close()
    return proc, parent_end


def code_refusal(proc: subprocess.Popen[bytes], conn: Connection, answer: tuple[object, ...] | None) -> CodeChanged | None:
    """After a failed start (the child reaped): its CodeChanged if it refused the installed code, else None.

    It says so first (``("code_changed", why)``: ``answer`` if read, else still waiting on ``conn``), then
    exits with CODE_CHANGED_EXIT; either is enough (the parent may have killed it between the two).
    """
    try:
        if answer is None and conn.poll(0):  # the parent's write failed before it read the child's answer
            answer = conn.recv()
    except (EOFError, OSError):
        pass
    if answer is not None and answer[0] == "code_changed":
        return CodeChanged(str(answer[1]))
    if proc.returncode == CODE_CHANGED_EXIT:
        return CodeChanged("authlog-shipper was upgraded while running; restart `authlog run` (the child's log line says more)")
    return None


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies, even by ``kill -9`` (Linux: ``PR_SET_PDEATHSIG``).

    The signal comes when the *thread* that started this process ends: the parent starts its children
    from its main thread or from a thread that lives as long as the child.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(0)


def leave_shutdown_to_parent() -> None:
    """Ignore SIGINT and SIGTERM: the parent decides when this process ends (it closes the socket: EOF).

    Ctrl-C and a SIGTERM sent to the whole group (systemd's KillMode=control-group, ``kill -TERM -PGID``)
    reach the children too: obeyed, they would cut short the work the sidecar is draining. A child still
    dies with its parent (:func:`die_with_parent`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
