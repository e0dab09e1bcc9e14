"""A delivery process: ``python -m shippers.delivery_process.child FD PARENT_PID``; it delivers its sinks.

Started by :mod:`shippers.delivery_process.supervisor` in the holder of the store's delivery lock.
It opens the store as one more process (it never takes the delivery lock: its parent holds it),
takes each of its sinks' locks (:mod:`~shippers.delivery_process.sink_lock`), builds only those
sinks' adapters, one SharedRows for them, and a SinkWorker each, exactly as the parent would on
its threads. Over the socket pair (pickled tuples)::

    parent -> child   settings (ChildSettings), then
                      ("set", [(sink, flag), ...])   flag: wake | flush_requested | draining | stopping | interrupt
                      ("blocked", sink, reason)      a commit met this full sink (when_full = "block")
                      ("sync", n)                    answered ("synced", n) after a report
    child -> parent   ("ready", pid) | ("failed", why)   once, at start
                      ("report", {sink: (state, last_error)}, {sink: warnings}, [exited sinks], [metric changes])

Reports carry only what changed since the last one, every REPORT_SECONDS at most. It ends when
the socket closes (EOF) or its parent dies (``PR_SET_PDEATHSIG``). At EOF with a sink still
delivering it exits at once: its parent is gone (a parent that closes waits for every sink to end
first), and nothing may deliver without the lock holder; what it had recorded is resent. It also
exits, to be started again, when a sink's lock file was deleted or replaced (LOST_LOCK_EXIT) or its
report thread failed (REPORT_FAILED_EXIT).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from shippers.buffer.opening import open_buffer
from shippers.catalog import load_catalog
from shippers.child_process import LOG_FORMAT, die_with_parent, leave_shutdown_to_parent
from shippers.config import Config
from shippers.delivery.shared_rows import SharedRows
from shippers.delivery_process.forwarded import ForwardedMetrics
from shippers.delivery_process.sink_lock import SinkLock
from shippers.heap import freeze_startup_heap
from shippers.metrics import Metrics
from shippers.pii import SinkPii
from shippers.plugins import build_adapters
from shippers.routing import Route
from shippers.worker import SinkWorker, batch_limits

log = logging.getLogger("shippers.delivery_process")

# Why: status and metrics trail the child by at most this; ~20 small messages a second cost nothing.
REPORT_SECONDS = 0.05
# Why: a sink lock is held by an earlier owner only while it dies (milliseconds); ten seconds allows a
# loaded machine, and a child that still cannot take it exits and is started again with a backoff.
LOCK_WAIT_SECONDS = 10.0
# Why: exit statuses of their own, so the parent's log line ("exit status 3") tells a lost lock or a failed report from a crash.
LOST_LOCK_EXIT = 3
REPORT_FAILED_EXIT = 4
FLAGS = frozenset({"wake", "flush_requested", "draining", "stopping", "interrupt"})


@dataclass(frozen=True)
class ChildSettings:
    """What a delivery process is sent at start: the config (secrets travel over the socket pair only) and its sinks."""

    config: Config
    sinks: list[str]
    log_level: int = logging.INFO  # the parent's


class ChildDelivery:
    """The sinks of this process, their workers, and what was last reported of them."""

    def __init__(self, settings: ChildSettings, conn: Connection) -> None:
        config = settings.config
        self.conn = conn
        self._send_lock = threading.Lock()
        self._report_lock = threading.Lock()
        self.buffer = open_buffer(config.buffer, clock=time.time)
        self.metrics = ForwardedMetrics()
        self.buffer.on_fault = lambda kind: self.metrics.store_errors.labels(kind).inc()  # type: ignore[attr-defined]
        sinks = [config.sinks[name] for name in settings.sinks]
        self.locks = [SinkLock(Path(config.buffer.path), sink.name) for sink in sinks]
        for lock in self.locks:
            if not lock.acquire(LOCK_WAIT_SECONDS):
                raise RuntimeError(f"sink {lock.sink!r} is still delivered by process {lock.holder()} (its lock {lock.path} is held)")
        catalog = load_catalog(Path(config.catalog.extra) if config.catalog.extra else None)
        adapters = build_adapters(sinks, catalog, time.time, self.buffer.store_id, time.monotonic)
        routes = {sink.name: Route(sink.name, sink.common.route) for sink in sinks}
        self.buffer.use_routes({name: route.takes for name, route in routes.items()})
        shared = SharedRows(self.buffer)  # this process's sinks read and decode each row once, together
        metrics = cast(Metrics, self.metrics)  # the five families a worker touches (forwarded.py)
        self.workers = {
            sink.name: SinkWorker(sink, adapters[sink.name], routes[sink.name], batch_limits(sink, adapters[sink.name]),
                                  SinkPii(sink.common.pii), self.buffer, metrics, time.time, shared=shared)
            for sink in sinks
        }
        self._states: dict[str, tuple[str, str | None]] = {}
        self._warnings: dict[str, dict[str, Any]] = {}
        self._exited: set[str] = set()

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()
        threading.Thread(target=self._report_loop, name="authlog-delivery-report", daemon=True).start()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self.conn.send(message)

    def handle(self, message: tuple[Any, ...]) -> None:
        op = message[0]
        if op == "set":
            for sink, flag in message[1]:
                if flag in FLAGS and sink in self.workers:
                    getattr(self.workers[sink], flag).set()
        elif op == "blocked":
            worker = self.workers.get(message[1])
            if worker is not None:
                worker.mark_blocked(message[2])
        elif op == "sync":
            self.report()
            self.send(("synced", message[1]))

    def report(self) -> None:
        """Send what changed since the last report (nothing when nothing did)."""
        with self._report_lock:
            states, warnings, exited = {}, {}, []
            for name, worker in self.workers.items():
                state = worker.status_snapshot()
                if self._states.get(name) != state:
                    states[name] = self._states[name] = state
                now = worker.adapter.warnings()
                if self._warnings.get(name, {}) != now:
                    warnings[name] = self._warnings[name] = now
                if name not in self._exited and not worker.alive:  # started before the first report
                    self._exited.add(name)
                    exited.append(name)
            changes = self.metrics.take()
            if states or warnings or exited or changes:
                self.send(("report", states, warnings, exited, changes))

    def _report_loop(self) -> None:
        try:
            while True:
                self.report()
                self._check_locks()
                time.sleep(REPORT_SECONDS)
        except (OSError, EOFError):
            return  # the parent is gone: main() ends the process
        except Exception:  # without reports its status freezes, its lock goes unchecked and close() waits its whole deadline
            log.exception("the report thread of this delivery process failed; ending the process (it is started again)")
            os._exit(REPORT_FAILED_EXIT)

    def _check_locks(self) -> None:
        """Exit when a sink's lock file was deleted or replaced: another owner could lock the new file beside this one."""
        for lock in self.locks:
            if not lock.still_guards():
                log.error("sink %r: its lock file %s was deleted or replaced while this process delivered; stopping so the "
                          "sink is taken again through the new file (do not delete deliver.*.lock files)", lock.sink, lock.path)
                os._exit(LOST_LOCK_EXIT)

    def all_exited(self) -> bool:
        return not any(worker.alive for worker in self.workers.values())


def main() -> None:
    """Entry point: ``python -m shippers.delivery_process.child FD PARENT_PID``."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    leave_shutdown_to_parent()  # obeyed, a group's SIGTERM would cut short the drain the parent runs
    conn = Connection(socket.socket(fileno=fd).detach())
    settings: ChildSettings = conn.recv()
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT, stream=sys.stderr)
    try:
        child = ChildDelivery(settings, conn)
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        sys.exit(1)
    freeze_startup_heap()  # as the sidecar does: full collections never walk the SDKs' start-up objects
    conn.send(("ready", os.getpid()))
    child.start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        child.handle(message)
    if not child.all_exited():
        os._exit(0)  # the parent is gone with a sink still delivering: stop now (module docstring)


if __name__ == "__main__":
    main()
