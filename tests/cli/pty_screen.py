"""A command run in a pseudo-terminal of a fixed size, its screen read through a VT100 emulator (pyte).

What a person sees in their terminal, escape sequences applied: ``screen.text()`` is the grid of
characters, one string per row. Waiting for something to appear polls the screen in a bounded loop
(never a fixed sleep); keys are written to the terminal as a person types them.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence
from typing import Self

import pyte

# Why: how long one read waits for output; short, so a wait loop notices its deadline promptly.
READ_SECONDS = 0.05
# Why: a cold `authlog top` imports rich and the client and asks the sidecar twice; 30 s means it is stuck.
DEFAULT_WAIT_SECONDS = 30.0


class PtyScreen:
    """``argv`` in a ``columns`` x ``lines`` pseudo-terminal."""

    def __init__(self, argv: Sequence[str], *, columns: int = 80, lines: int = 24, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        environment = {**(env or os.environ), "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
        self.proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=environment,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master

    def pump(self, seconds: float = READ_SECONDS) -> None:
        """Feed what the program wrote within ``seconds`` to the emulator."""
        ready, _, _ = select.select([self.master], [], [], seconds)
        if ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the program exited and the terminal closed
                return
            self.stream.feed(data)

    def text(self) -> list[str]:
        return list(self.screen.display)

    def wait_for(self, condition: Callable[[list[str]], bool], what: str, timeout: float = DEFAULT_WAIT_SECONDS) -> list[str]:
        """Pump until ``condition(rows)`` holds; AssertionError with the screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            rows = self.text()
            if condition(rows):
                return rows
            if self.proc.poll() is not None:
                self.pump()
                break
        raise AssertionError(f"{what}: not on the screen within {timeout}s (exit {self.proc.poll()}):\n" + "\n".join(self.text()))

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_exit(self, timeout: float = DEFAULT_WAIT_SECONDS) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.pump()
        if self.proc.poll() is None:
            raise AssertionError("the program did not exit:\n" + "\n".join(self.text()))
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEFAULT_WAIT_SECONDS)
        os.close(self.master)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
