"""The background thread that moves spooled events to the sidecar once it answers.

Each round: take the spool's forward lock (one process of the app forwards; the others only
append), post up to ``FORWARD_BATCH`` of the oldest events in one request, forget them once the
sidecar answered 202/422 (an event it rejects is counted as ``sidecar_rejected``: resending cannot
help), and go on while any are left. A sidecar that does not answer, or a wrong token, keeps every
event and is tried again after a backoff that doubles up to ``MAX_BACKOFF_SECONDS``. When the spool
is empty the thread waits to be woken by the next spooled event (or ``IDLE_CHECK_SECONDS``, for
events another process spooled).

:meth:`Forwarder.forward_once` is one round, so tests drive it without the thread or a clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shippers.contrib.drops import DropCounter
from shippers.contrib.spool import Spool, SpoolError
from shippers.contrib.transport import SidecarTransport

log = logging.getLogger("shippers.contrib")

# Why: 500 events (~300 KiB) per request is far below the sidecar's 10 MiB body cap and commits in ms.
FORWARD_BATCH = 500
# Why: a restarting sidecar is usually back within a second or two...
INITIAL_BACKOFF_SECONDS = 1.0
# ... and 30 s between tries keeps a long outage from costing anything while still noticing the end quickly.
MAX_BACKOFF_SECONDS = 30.0
# Why: a sidecar that stays down is said once a minute, not once per backoff round.
WARN_EVERY_SECONDS = 60.0
# Why: another worker's spooled events are picked up within a minute even when this one spools nothing.
IDLE_CHECK_SECONDS = 30.0


class Forwarder:
    """Forward one spool to one sidecar; ``wait(event, seconds)`` is injectable (tests return at once)."""

    def __init__(
        self,
        spool: Spool,
        transport: SidecarTransport,
        drops: DropCounter,
        *,
        on_empty: Callable[[], None] = lambda: None,
        wait: Callable[[threading.Event, float], bool] = lambda event, seconds: event.wait(seconds),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        self.transport = transport
        self.drops = drops
        self.on_empty = on_empty
        self._wait = wait
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = INITIAL_BACKOFF_SECONDS
        self._monotonic = monotonic
        self._warned_at: float | None = None

    def forward_once(self) -> bool | None:
        """One round. True: something left to send now; False: the spool is empty; None: try later (backoff)."""
        if not self.spool.take_forward_lock():
            return False if self._empty() else None
        try:
            rows = self.spool.oldest(FORWARD_BATCH)
        except SpoolError:
            return None
        if not rows:
            self.on_empty()
            return False
        outcome = self.transport.send([line for _, line in rows])
        if outcome.kind != "accepted":
            if outcome.kind == "rejected":  # the request itself: no resend of these lines can help
                log.warning("authlog: the sidecar refused %d spooled event(s) (HTTP %s); they are dropped",
                            len(rows), outcome.status)
                for _ in rows:
                    self.drops("sidecar_rejected")
            else:
                self._say_waiting(outcome.kind, outcome.status)
                return None
        for _ in outcome.rejected:
            self.drops("sidecar_rejected")
        try:
            self.spool.remove([seq for seq, _ in rows])
        except SpoolError:
            return None  # forwarded but still spooled: sent again later (the ids let destinations deduplicate)
        self._backoff = INITIAL_BACKOFF_SECONDS
        return True

    def _say_waiting(self, kind: str, status: int | None) -> None:
        """Log that the spool waits for the sidecar: on the first failure, then at most once per WARN_EVERY_SECONDS."""
        now = self._monotonic()
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_SECONDS:
            return
        self._warned_at = now
        hint = "check sidecar_token" if kind == "unauthorized" else "is `authlog run` up at sidecar_url?"
        log.warning("authlog: the spool %s holds events the sidecar does not take yet (%s%s); %s", self.spool.path,
                    kind, f", HTTP {status}" if status else "", hint)

    def _empty(self) -> bool:
        try:
            empty = self.spool.count() == 0
        except SpoolError:
            return False
        if empty:
            self.on_empty()
        return empty

    # -- the thread ---------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="authlog-spool-forwarder", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.clear()  # before the round: an event spooled during it wakes the next wait
            try:
                more = self.forward_once()
            except Exception as exc:  # never let the thread die: the spool would never drain
                log.warning("authlog: forwarding the spool failed (%s); trying again later", type(exc).__name__)
                more = None
            if more:
                continue
            if more is None:
                pause, self._backoff = self._backoff, min(self._backoff * 2, MAX_BACKOFF_SECONDS)
            else:
                pause = IDLE_CHECK_SECONDS
            self._wait(self.wake, pause)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
