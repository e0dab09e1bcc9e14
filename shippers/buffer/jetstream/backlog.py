"""Each sink's backlog in bytes on a fleet, for ``max_backlog`` and ``when_full``: estimated from the stream.

A consumer knows how many events it has not settled (pending + unacknowledged), not their bytes:
the backlog is that count times the stream's average stored event size. The sink's policy is the
one the first member stored in the consumer's metadata (``authlog_when_full``,
``authlog_max_backlog``), so every member applies the same one::

    when_full = "block", max_backlog set   an append that would pass the cap is refused (503, naming the sink)
    when_full = "drop_oldest"              the member delivering the sink acknowledges its oldest events without
                                           sending them (counted as dropped) until it is under its cap:
                                           max_backlog, or DROP_SHARE of the stream's max_bytes

Figures are read at most every ``REFRESH_SECONDS`` (one stream and one consumers request).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shippers.buffer.jetstream.faults import FULL_RETRY_AFTER_SECONDS
from shippers.buffer.jetstream.link import Link
from shippers.buffer.jetstream.names import Names
from shippers.errors import BufferFullError

# Why: an append or a scan reads the figures at most this often; a cap is a bound, not an exact line.
REFRESH_SECONDS = 1.0
# Why: a drop_oldest sink without max_backlog keeps under 90 % of the stream, so the stream (discard new)
# keeps room for new events instead of refusing them while the member drops.
DROP_SHARE = 0.9
WHEN_FULL = "authlog_when_full"
MAX_BACKLOG = "authlog_max_backlog"


@dataclass(frozen=True)
class SinkBacklog:
    events: int  # pending + unacknowledged on the consumer
    when_full: str
    max_backlog: int | None


class Backlogs:
    """The fleet's sinks' backlogs, refreshed at most every REFRESH_SECONDS."""

    def __init__(self, link: Link, names: Names, max_bytes: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.names = names
        self.max_bytes = max_bytes
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._until = -math.inf
        self._sinks: dict[str, SinkBacklog] = {}
        self._average = 0.0

    def _refresh(self) -> None:
        with self._lock:
            if self.monotonic() < self._until:
                return

        async def read() -> tuple[dict[str, SinkBacklog], float]:
            infos = await self.link.js.consumers_info(self.names.stream)
            state = (await self.link.js.stream_info(self.names.stream)).state
            sinks = {}
            for info in infos:
                metadata = info.config.metadata or {}
                cap = metadata.get(MAX_BACKLOG) or ""
                sinks[info.name] = SinkBacklog(int(info.num_pending or 0) + int(info.num_ack_pending or 0),
                                               metadata.get(WHEN_FULL, "block"), int(cap) if cap.isdigit() else None)
            return sinks, (state.bytes / state.messages if state.messages else 0.0)

        sinks, average = self.link.call(read(), "reading the sinks' backlogs")
        with self._lock:
            self._sinks, self._average = sinks, average
            self._until = self.monotonic() + REFRESH_SECONDS

    def average_bytes(self) -> float:
        self._refresh()
        return self._average

    def refuse_if_full(self, incoming: int) -> None:
        """BufferFullError naming the first blocking sink whose backlog plus ``incoming`` bytes passes its max_backlog."""
        self._refresh()
        for name, sink in sorted(self._sinks.items()):
            if sink.when_full != "block" or sink.max_backlog is None:
                continue
            backlog = int(sink.events * self._average)
            if backlog and backlog + incoming > sink.max_backlog:
                raise BufferFullError(
                    f"sink {name!r} is about {backlog} bytes behind on the fleet, its cap is {sink.max_backlog} (when_full = \"block\"); "
                    "retry later, fix the sink, or raise its max_backlog", FULL_RETRY_AFTER_SECONDS, sink=name)

    def events_over_cap(self, sink: str) -> int:
        """How many of a drop_oldest sink's oldest events to drop to be under its cap (0 for any other sink)."""
        self._refresh()
        found = self._sinks.get(sink)
        if found is None or found.when_full != "drop_oldest" or not self._average:
            return 0
        cap = found.max_backlog if found.max_backlog is not None else int(self.max_bytes * DROP_SHARE)
        over = found.events * self._average - cap
        return math.ceil(over / self._average) if over > 0 else 0

    def forget(self) -> None:
        """Read the figures again at the next look (after this member dropped some)."""
        with self._lock:
            self._until = -math.inf
