"""The ``chaos`` adapter: a sink that fails on command, in each way the core must handle.

Queue faults on a sink by name, then let the worker meet them::

    chaos.script("flaky").throttle(retry_after=30)            # next attempt: 429 + Retry-After
    chaos.script("flaky").fail(times=2)                        # 2 transient errors (5xx)
    chaos.script("flaky").per_item({0: "retry", 3: "reject"})  # one per-item answer
    chaos.script("flaky").too_large(times=1)                   # 413: split
    chaos.script("flaky").permanent("bad key", sticky=True)    # sink_error until cleared
    chaos.script("flaky").reject_ids({"evt-7"})                # these ids are refused (400) every time

Events that get through are recorded like the memory adapter does (``chaos.delivered``).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

import msgspec

from adapters.contract import Adapter, BatchLimits, HardLimits, ItemResult, Request, Verdict
from shippers.event import Event

_lock = threading.Lock()


class ChaosConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Why: lets a test make the "too large" path reachable with small events.
    max_request_events: int = 100_000


@dataclass
class Script:
    """Faults queued for one sink, consumed one per attempt (sticky ones until cleared)."""

    faults: deque[Verdict | dict[int, str]] = field(default_factory=deque)
    sticky: Verdict | None = None
    rejected_ids: set[str] = field(default_factory=set)
    attempts: int = 0

    def throttle(self, retry_after: float = 1.0, times: int = 1) -> Script:
        self.faults.extend(Verdict.retry("429 Too Many Requests", retry_after) for _ in range(times))
        return self

    def fail(self, times: int = 1, reason: str = "503 Service Unavailable") -> Script:
        self.faults.extend(Verdict.retry(reason) for _ in range(times))
        return self

    def too_large(self, times: int = 1) -> Script:
        self.faults.extend(Verdict.split("413 Request Entity Too Large") for _ in range(times))
        return self

    def per_item(self, outcomes: dict[int, str]) -> Script:
        """Item index -> 'retry' | 'reject' | 'duplicate' for the next attempt; others delivered."""
        self.faults.append(dict(outcomes))
        return self

    def permanent(self, reason: str = "403 Forbidden: check the API key", sticky: bool = True) -> Script:
        verdict = Verdict.sink_error(reason)
        if sticky:
            self.sticky = verdict
        else:
            self.faults.append(verdict)
        return self

    def reject_ids(self, ids: set[str]) -> Script:
        self.rejected_ids |= ids
        return self

    def clear(self) -> Script:
        self.faults.clear()
        self.sticky = None
        return self


_scripts: dict[str, Script] = defaultdict(Script)
delivered: dict[str, list[Event]] = defaultdict(list)


def script(sink: str) -> Script:
    with _lock:
        return _scripts[sink]


def reset() -> None:
    with _lock:
        _scripts.clear()
        delivered.clear()


class ChaosAdapter(Adapter):
    name = "chaos"
    summary = "fails on command: throttling, 5xx, per-item, too large, permanent (shippers.testing)"
    Config = ChaosConfig
    batch_defaults = BatchLimits(max_events=100, max_bytes=1024 * 1024, timeout=0.05)
    hard_limits = HardLimits(max_events=100_000, max_bytes=64 * 1024 * 1024, max_item_bytes=64 * 1024)

    def map(self, event: Event) -> Event:
        return event

    def send(self, request: Request) -> Verdict:
        with _lock:
            plan = _scripts[self.context.name]
            plan.attempts += 1
            if plan.sticky is not None:
                return plan.sticky
            if len(request.items) > self.config.max_request_events:
                return Verdict.split(f"{len(request.items)} events > {self.config.max_request_events}")
            fault = plan.faults.popleft() if plan.faults else None
            if isinstance(fault, Verdict):
                return fault
            outcomes = fault or {}
            results = []
            for index, event in enumerate(request.events):
                if event.id in plan.rejected_ids:
                    results.append(ItemResult("reject", f"400 id {event.id} refused"))
                    continue
                outcome = outcomes.get(index, "delivered")
                results.append(ItemResult(outcome, f"item {index}: {outcome}"))  # type: ignore[arg-type]
                if outcome in ("delivered", "duplicate"):
                    delivered[self.context.name].append(event)
            if not outcomes and not plan.rejected_ids:
                return Verdict.delivered()
            return Verdict.per_item(results)
