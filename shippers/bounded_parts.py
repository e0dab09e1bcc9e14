"""A dict of parts worked out once per key, that starts again (forgets them all) when it would pass its bounds.

The adapters remember what the events of one (type, outcome, tenant) share (Datadog's tags, Cloud
Logging's severity and labels). A producer that sends a new tenant id with every event would
otherwise grow such a dict without end; starting again costs only the work of the next look-ups,
and a plain dict keeps the hot path a single ``get``.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedParts(dict[K, V]):
    """At most ``max_entries`` entries and (when given) ``max_bytes`` of their sizes as told to :meth:`remember`.

    Threads may read and add at once: each get, set and clear is atomic; two threads may work out the same
    part, and ``held_bytes`` is approximate then (it only decides when to start again).
    """

    def __init__(self, max_entries: int, max_bytes: int | None = None) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.held_bytes = 0

    def remember(self, key: K, value: V, size: int = 0) -> V:
        """Keep ``value`` under ``key`` (starting again first if it would not fit); returns ``value``."""
        if len(self) >= self.max_entries or (self.max_bytes is not None and self.held_bytes + size > self.max_bytes):
            self.clear()
            self.held_bytes = 0
        self[key] = value
        self.held_bytes += size
        return value
