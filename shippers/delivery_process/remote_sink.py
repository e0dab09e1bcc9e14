"""What the Shipper steers in place of a SinkWorker for a sink delivered by a delivery process.

The same names the Shipper uses of :class:`~shippers.worker.SinkWorker`: the flags (``wake``,
``flush_requested``, ``draining``, ``stopping``, ``interrupt``) whose ``set()`` reaches the child
(coalesced by the supervisor), ``status_snapshot``, ``mark_blocked``, ``alive``, ``join``; plus
``adapter_warnings`` (the adapter lives in the child). What the child reports lands here.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol


class FlagSink(Protocol):
    def signal(self, sink: str, flag: str) -> None: ...

    def block(self, sink: str, reason: str) -> None: ...


class RemoteFlag:
    """A worker flag whose ``set()`` is sent to the child; ``is_set`` says whether this side ever set it."""

    def __init__(self, sink: str, name: str, channel: FlagSink) -> None:
        self.sink, self.name, self.channel = sink, name, channel
        self._set = False

    def set(self) -> None:
        self._set = True
        self.channel.signal(self.sink, self.name)

    def is_set(self) -> bool:
        return self._set


class RemoteSink:
    """One sink of a delivery process, as its parent sees it."""

    def __init__(self, name: str, channel: FlagSink) -> None:
        self.name = name
        self.channel = channel
        self.wake = RemoteFlag(name, "wake", channel)
        self.flush_requested = RemoteFlag(name, "flush_requested", channel)
        self.draining = RemoteFlag(name, "draining", channel)
        self.stopping = RemoteFlag(name, "stopping", channel)
        self.interrupt = RemoteFlag(name, "interrupt", channel)
        self._lock = threading.Lock()
        self._state: tuple[str, str | None] = ("active", None)
        self._warnings: dict[str, Any] = {}
        self._running = threading.Event()  # its worker runs in a live child
        self._ended = threading.Event()  # its worker ended, or its child did: join() returns
        self.halted: str | None = None  # why its child is not restarted (the installed code changed): /readyz says it

    # -- what the Shipper uses --------------------------------------------------------------
    def start(self) -> None:
        """Nothing to do: the supervisor starts the child (one for all its sinks)."""

    def status_snapshot(self) -> tuple[str, str | None]:
        with self._lock:
            return self._state

    def mark_blocked(self, reason: str) -> None:
        with self._lock:
            self._state = ("blocked", reason)
        self.channel.block(self.name, reason)

    def adapter_warnings(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._warnings)

    @property
    def alive(self) -> bool:
        return self._running.is_set()

    def join(self, timeout: float) -> bool:
        """Wait until its worker ended (True), or ``timeout`` passed (False)."""
        return self._ended.wait(timeout) or not self._running.is_set()

    # -- what the supervisor reports ----------------------------------------------------------
    def note_running(self) -> None:
        self._ended.clear()
        self._running.set()

    def note_state(self, state: tuple[str, str | None]) -> None:
        with self._lock:
            self._state = (state[0], state[1])

    def note_warnings(self, warnings: dict[str, Any]) -> None:
        with self._lock:
            self._warnings = dict(warnings)

    def note_halted(self, why: str) -> None:
        """Its child refused to start and is not restarted: the sink is failing with ``why`` until a restart."""
        self.halted = why
        self.note_ended(why)

    def note_ended(self, why: str | None = None) -> None:
        """Its worker ended (a report), or its child is gone (``why``: shown as the sink's last error)."""
        self._running.clear()
        if why is not None:
            with self._lock:
                self._state = ("failing", why)
        self._ended.set()
