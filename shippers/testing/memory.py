"""The ``memory`` adapter: keeps delivered events in a process-wide dict, for tests and benchmarks.

Every sink of type ``memory`` appends to ``MemoryAdapter.delivered[<sink name>]``; call
:func:`reset` between tests. Delivery never fails: use the ``chaos`` adapter for failures.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from adapters.contract import Adapter, BatchLimits, HardLimits, Request, Verdict
from shippers.event import Event

_lock = threading.Lock()


class MemoryAdapter(Adapter):
    name = "memory"
    summary = "keeps events in memory (shippers.testing: tests and benchmarks)"
    # Why: small batches and a short timeout make tests quick and exercise batching often.
    batch_defaults = BatchLimits(max_events=500, max_bytes=1024 * 1024, timeout=0.05)
    hard_limits = HardLimits(max_events=100_000, max_bytes=64 * 1024 * 1024, max_item_bytes=1024 * 1024)
    archive_line = True

    delivered: dict[str, list[Event]] = defaultdict(list)
    requests: dict[str, list[Request]] = defaultdict(list)

    def map(self, event: Event) -> Event:
        return event

    def send(self, request: Request) -> Verdict:
        with _lock:
            self.delivered[self.context.name].extend(request.events)
            self.requests[self.context.name].append(request)
        return Verdict.delivered()


def reset() -> None:
    with _lock:
        MemoryAdapter.delivered.clear()
        MemoryAdapter.requests.clear()


def delivered_ids(sink: str) -> list[str]:
    with _lock:
        return [e.id for e in MemoryAdapter.delivered[sink]]
