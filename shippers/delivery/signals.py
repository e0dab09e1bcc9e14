"""How the Shipper steers one sink's delivery thread: wake it, ask for a flush, drain it, stop it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Signals:
    """The events a sink's thread and its pool threads watch; the Shipper sets them (shutdown order in Shipper.close)."""

    wake: threading.Event = field(default_factory=threading.Event)  # something was appended: look now
    flush: threading.Event = field(default_factory=threading.Event)  # cut regardless of the batch timeout
    draining: threading.Event = field(default_factory=threading.Event)  # shutdown: deliver what is there, then exit
    stopping: threading.Event = field(default_factory=threading.Event)  # stop now (backoff sleeps end)
    interrupt: threading.Event = field(default_factory=threading.Event)  # cuts a backoff sleep short (set on drain and stop)

    def shutting_down(self) -> bool:
        """Draining or stopping: no more waiting out backoffs."""
        return self.draining.is_set() or self.stopping.is_set()
