"""Sidecar mode: post each event within the request's budget; past it, spool the event or count it dropped.

::

    request thread                                   send thread (at most SEND_SLOTS at once)
    deliver(id, line, deadline)
      the spool holds events (spool mode)?  -> spool it (order kept; the forwarder drains the spool)
      cooling down after a failure?         -> fallback at once (no budget spent on a known-down sidecar)
      no free send slot?                    -> fallback(sidecar_busy)
      start the send ------------------------------> transport.send([line]): one attempt
      wait(done, deadline - now)
        answered in time  -> settle: 202 done; refused -> drop sidecar_rejected; down -> fallback
        not yet           -> fallback now, and the send finishes alone:
                               spool mode: a late 202 removes the spooled copy (not sent twice)
                               drop mode:  a late failure is counted then; a late 202 is no drop

``fallback`` is the ``on_slow`` setting: ``spool`` appends to the spool and wakes the forwarder
(a spool that cannot take it counts ``spool_full`` / ``spool_unavailable``); ``drop`` counts the
reason. A wrong token (401) is kept in the spool (it is fixable) and dropped in drop mode.
Nothing here raises into the request; the wait is the injected ``wait`` on the injected clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from shippers.contrib.drops import DropCounter
from shippers.contrib.forwarder import Forwarder
from shippers.contrib.spool import Spool, SpoolError
from shippers.contrib.transport import Outcome, SidecarTransport

# Why: each send in flight holds a thread; a hung sidecar would otherwise pile up one per login.
SEND_SLOTS = 4
# Why: after a failure, events fall back at once for this long instead of each spending the budget
# on a sidecar just seen down; then one event tries again (the forwarder also ends it, in spool mode).
COOL_DOWN_SECONDS = 5.0

_REASON = {"unavailable": "sidecar_unavailable", "timeout": "sidecar_timeout", "unauthorized": "sidecar_rejected",
           "rejected": "sidecar_rejected"}

Wait = Callable[[threading.Event, float], bool]


class _Send:
    """One event handed to a send thread; ``abandoned`` once the request stopped waiting for it."""

    __slots__ = ("abandoned", "done", "event_id", "line", "lock", "outcome")

    def __init__(self, event_id: str, line: bytes) -> None:
        self.event_id = event_id
        self.line = line
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.outcome: Outcome | None = None
        self.abandoned = False


class SidecarDelivery:
    """One process's way to the sidecar (see the module docstring)."""

    def __init__(
        self,
        transport: SidecarTransport,
        drops: DropCounter,
        *,
        on_slow: Literal["spool", "drop"],
        spool: Spool | None,
        monotonic: Callable[[], float],
        wait: Wait,
        forwarder_wait: Wait | None = None,
        start_forwarder: bool = True,
    ) -> None:
        self.transport = transport
        self.drops = drops
        self.on_slow = on_slow
        self.spool = spool if on_slow == "spool" else None
        self._monotonic = monotonic
        self._wait = wait
        self._slots = threading.BoundedSemaphore(SEND_SLOTS)
        self._state = threading.Lock()
        self._cool_until: float | None = None
        self._cool_reason = "sidecar_unavailable"
        self._backlog = False  # this process spooled events the forwarder has not yet seen go
        self.forwarder: Forwarder | None = None
        self._start_forwarder = start_forwarder
        if self.spool is not None:
            self.forwarder = Forwarder(self.spool, transport, drops, on_empty=self._spool_drained, monotonic=monotonic,
                                       **({"wait": forwarder_wait} if forwarder_wait else {}))
            self._backlog = self.spool.path.exists()  # events left from before this process: forwarded first
            if start_forwarder:
                self.forwarder.start()

    # -- the request's side ---------------------------------------------------------
    def deliver(self, event_id: str, line: bytes, deadline: float) -> bool:
        """Post one event, or fall back, by ``deadline`` (injected monotonic clock); False once counted as dropped."""
        with self._state:
            backlog, cooling = self._backlog, self._cool_until is not None and self._monotonic() < self._cool_until
            reason = self._cool_reason
        if cooling or (backlog and self.spool is not None):
            return self._fallback(reason, event_id, line)
        if not self._slots.acquire(blocking=False):
            self._failed("sidecar_busy")
            return self._fallback("sidecar_busy", event_id, line)
        job = _Send(event_id, line)
        threading.Thread(target=self._send, args=(job,), name="authlog-sidecar-send", daemon=True).start()
        self._wait(job.done, max(0.0, deadline - self._monotonic()))
        with job.lock:
            outcome = job.outcome
            job.abandoned = outcome is None
        if outcome is None:
            self._failed("sidecar_timeout")
            if self.spool is None:  # drop mode counts when the send ends: a late 202 is no drop
                return True
            return self._fallback("sidecar_timeout", event_id, line)
        return self._settle(outcome, event_id, line)

    def _settle(self, outcome: Outcome, event_id: str, line: bytes) -> bool:
        if outcome.kind == "accepted":
            with self._state:
                self._cool_until = None
            if outcome.rejected:
                self.drops("sidecar_rejected", "the sidecar's catalog refused it: does it have your [catalog] extra?")
                return False
            return True
        if outcome.kind == "rejected":
            self.drops("sidecar_rejected", f"HTTP {outcome.status}")
            return False
        if outcome.kind == "unauthorized" and self.spool is None:
            self.drops("sidecar_rejected", f"HTTP {outcome.status}: check sidecar_token")
            return False
        self._failed(_REASON[outcome.kind])
        return self._fallback(_REASON[outcome.kind], event_id, line)

    def _failed(self, reason: str) -> None:
        with self._state:
            self._cool_until = self._monotonic() + COOL_DOWN_SECONDS
            self._cool_reason = reason

    def _fallback(self, reason: str, event_id: str, line: bytes) -> bool:
        if self.spool is None:
            self.drops(reason)
            return False
        try:
            self.spool.append(event_id, line)
        except SpoolError as exc:
            self.drops(exc.reason, str(exc))
            return False
        with self._state:
            self._backlog = True
        if self.forwarder is not None and self._start_forwarder:
            self.forwarder.start()
            self.forwarder.wake.set()
        return True

    # -- the send thread's side -----------------------------------------------------
    def _send(self, job: _Send) -> None:
        try:
            outcome = self.transport.send([job.line])
        except Exception:  # a transport must not raise; if one does, it is a failed attempt
            outcome = Outcome("unavailable")
        finally:
            self._slots.release()
        with job.lock:
            job.outcome = outcome
            late = job.abandoned
        job.done.set()
        if late:
            self._late(job, outcome)

    def _late(self, job: _Send, outcome: Outcome) -> None:
        """The answer to a send the request stopped waiting for (it already fell back)."""
        if outcome.kind == "accepted":
            with self._state:
                self._cool_until = None
            if self.spool is not None:
                try:
                    self.spool.discard(job.event_id)
                except SpoolError:
                    pass  # the spooled copy is forwarded again: same id, destinations deduplicate
            if outcome.rejected:
                self.drops("sidecar_rejected")
        elif self.spool is None:
            self.drops(_REASON[outcome.kind])

    def _spool_drained(self) -> None:
        with self._state:
            self._backlog = False
            self._cool_until = None

    def close(self, timeout: float = 5.0) -> None:
        if self.forwarder is not None:
            self.forwarder.stop(timeout)
        if self.spool is not None:
            self.spool.close()
        self.transport.close()
