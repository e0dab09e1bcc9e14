"""The parent's side of one delivery process: start it, feed it the sinks' flags, read its reports, restart it.

One long-lived thread per child starts it (``PR_SET_PDEATHSIG`` fires when the thread that started
a child ends, so never a short-lived one), reads its reports until it ends, and starts it again
after a backoff (RESPAWN_*), unless the Shipper is closing. Meanwhile its sinks are not alive
(``/readyz`` names them) and their status says the process is being restarted; the new child
resends the batches the old one had recorded (the sink loop's restart logic), so an event is
lost never and sent twice only when it was in flight when the child died (as after a crash).

A second thread sends what the Shipper asks of the child, coalesced: the flags it sets (``wake``
on every commit), a full sink's reason (``blocked``, the latest per sink) and a flush's sync (the
latest). What was asked while the last message was on its way goes in the next one, so a burst of
commits costs the child one message, not one per commit, and no caller (a commit refused by a full
sink, a flush) ever writes to the socket itself: a child that stops reading (SIGSTOP, a hang) holds
up only this thread, never ingest.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from shippers.child_process import code_refusal, start_child
from shippers.code_identity import CodeChanged
from shippers.config import Config
from shippers.delivery_process.child import ChildSettings
from shippers.delivery_process.forwarded import apply
from shippers.delivery_process.remote_sink import RemoteSink

log = logging.getLogger("shippers.delivery_process")

# Why: a child imports the store, its SDKs and its adapters in about a second; thirty allows a loaded
# machine and the wait for an earlier owner's sink lock (child.LOCK_WAIT_SECONDS), and still fails a hang.
START_TIMEOUT_SECONDS = 30.0
# Why: a child that dies at once on every start (a broken install, a store it cannot open) is not
# restarted in a busy loop: 1 s, doubling up to 30 s; a child that lived a minute starts over at 1 s.
RESPAWN_INITIAL_SECONDS = 1.0
RESPAWN_MAX_SECONDS = 30.0
RESPAWN_RESET_AFTER_SECONDS = 60.0
# Why: a sync (flush's last step: the reports of what was delivered) is one round trip on a local socket.
SYNC_TIMEOUT_SECONDS = 5.0


# The flags a close() sets once and for all: a child started after them (a restart) is given them at once.
CLOSE_FLAGS = ("draining", "stopping")


class DeliveryProcess:
    """One delivery process for ``sinks``: its proxies in :attr:`sinks`, its life cycle here."""

    def __init__(self, index: int, config: Config, sinks: list[str], metrics: Any) -> None:
        self.index = index
        self.config = config
        self.metrics = metrics
        self.sinks = {name: RemoteSink(name, self) for name in sinks}
        for name in sinks:
            metrics.delivery_restarts.labels(name)  # 0 from the start: a crash between two scrapes still shows as a step
        self.first_start = threading.Event()  # the first start succeeded or failed
        self._closing = threading.Event()
        self._pending: dict[tuple[str, str], None] = {}
        self._pending_blocks: dict[str, str] = {}  # sink -> the latest reason a commit met it full
        self._pending_sync = 0  # the latest sync asked for (0: none)
        self._pending_lock = threading.Lock()
        self._has_pending = threading.Event()
        self._send_lock = threading.Lock()
        self._conn: Connection | None = None
        self._sock: socket.socket | None = None
        self._starting: socket.socket | None = None  # the socket of a child started but not yet ready
        self._ended_by_itself = False  # the last child exited with status 0 at stop (it drained), not killed or crashed
        self._proc: subprocess.Popen[bytes] | None = None
        self._syncs = 0
        self._synced = threading.Condition()
        self._synced_upto = 0
        self._supervisor = threading.Thread(target=self._supervise, name=f"authlog-delivery-{index}", daemon=True)
        self._sender = threading.Thread(target=self._send_flags, name=f"authlog-delivery-{index}-flags", daemon=True)

    @property
    def label(self) -> str:
        return f"delivery process {self.index} (sink{'s' if len(self.sinks) > 1 else ''} {', '.join(self.sinks)})"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        self._supervisor.start()
        self._sender.start()

    # -- flags (any thread) ------------------------------------------------------------------
    def signal(self, sink: str, flag: str) -> None:
        with self._pending_lock:
            self._pending[(sink, flag)] = None
        self._has_pending.set()

    def block(self, sink: str, reason: str) -> None:
        with self._pending_lock:
            self._pending_blocks[sink] = reason
        self._has_pending.set()

    def _send_flags(self) -> None:
        while True:
            self._has_pending.wait()
            self._has_pending.clear()
            with self._pending_lock:
                flags, self._pending = list(self._pending), {}
                blocks, self._pending_blocks = self._pending_blocks, {}
                sync, self._pending_sync = self._pending_sync, 0
            for sink, reason in blocks.items():
                self._send(("blocked", sink, reason))
            if flags:
                self._send(("set", flags))
            if sync:
                self._send(("sync", sync))
            if self._closing.is_set() and self._conn is None:
                return

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return  # no child now: a new one starts with every sink due (SinkWorker.start)
            try:
                conn.send(message)
            except OSError:
                pass  # it died: the supervisor sees the EOF and restarts it

    def sync(self, timeout: float = SYNC_TIMEOUT_SECONDS) -> bool:
        """Wait for the child's report of everything done so far (flush's metrics); False if it did not come."""
        if self._conn is None:
            return False  # no child now: nothing of it to wait for
        with self._synced:
            self._syncs += 1
            n = self._syncs
        with self._pending_lock:
            self._pending_sync = max(self._pending_sync, n)  # the child answers the latest; it covers the earlier ones
        self._has_pending.set()
        with self._synced:
            return self._synced.wait_for(lambda: self._synced_upto >= n or self._conn is None, min(timeout, SYNC_TIMEOUT_SECONDS))

    # -- life cycle (the supervisor thread) ---------------------------------------------------
    def _supervise(self) -> None:
        backoff = RESPAWN_INITIAL_SECONDS
        while not self._closing.is_set():
            started = time.monotonic()
            try:
                why = self._run_once()
            except CodeChanged as exc:  # restarting would only meet the same code again: stop, say why
                self._halt(str(exc))
                break
            if self._closing.is_set():
                break
            if time.monotonic() - started >= RESPAWN_RESET_AFTER_SECONDS:
                backoff = RESPAWN_INITIAL_SECONDS
            why = f"{why}; restarting it in {backoff:g}s"
            log.error("%s: %s", self.label, why)
            for sink in self.sinks.values():
                sink.note_ended(f"its delivery process is not running: {why}")
                self.metrics.up.labels(sink.name).set(0)
                self.metrics.delivery_restarts.labels(sink.name).inc()
            self.first_start.set()  # (a failed first start: its sinks say why before start() returns)
            if self._closing.wait(backoff):
                break
            backoff = min(backoff * 2, RESPAWN_MAX_SECONDS)
        for sink in self.sinks.values():
            sink.note_ended()
        self.first_start.set()
        self._has_pending.set()  # the sender ends

    def _halt(self, why: str) -> None:
        """No more restarts: the installed code is not this process's; its sinks are not ready and say why."""
        log.error("%s: %s; not restarting it: its sinks deliver nothing until then", self.label, why)
        for sink in self.sinks.values():
            sink.note_halted(why)
            self.metrics.up.labels(sink.name).set(0)
        self.first_start.set()

    def _run_once(self) -> str:
        """Start the child and read its reports until it ends; why it ended (CodeChanged: it refused the installed code)."""
        try:
            self._spawn()
        except CodeChanged:
            raise
        except Exception as exc:
            return f"it did not start: {type(exc).__name__}: {exc}"
        assert self._conn is not None and self._proc is not None
        for sink in self.sinks.values():
            sink.note_running()
        self.first_start.set()
        conn, proc = self._conn, self._proc
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            self._dispatch(message)
        with self._send_lock:
            self._conn = None
        with self._synced:
            self._synced.notify_all()  # a sync waiting for this child ends
        conn.close()
        if not self._closing.is_set() and proc.poll() is None:
            proc.kill()  # its socket failed but it runs: it must not deliver unsupervised
        code = proc.wait()
        self._ended_by_itself = self._closing.is_set() and code == 0
        return f"process {proc.pid} ended (exit status {code})"

    def _spawn(self) -> None:
        proc, parent_end = start_child("shippers.delivery_process.child")
        conn = Connection(os.dup(parent_end.fileno()))  # the socket object stays: shutdown() wakes the reader at close
        hello: tuple[Any, ...] | None = None
        with self._send_lock:  # stop() meanwhile ends this start (EOF for the child and the wait below), never leaves it running
            self._starting = parent_end
        try:
            if self._closing.is_set():
                raise RuntimeError("the delivery processes are being stopped")
            # Only its sinks: unpickling another sink's config would import that sink's SDK (tens of MiB) in the child.
            mine = msgspec.structs.replace(self.config, sinks={name: self.config.sinks[name] for name in self.sinks})
            conn.send(ChildSettings(mine, list(self.sinks), logging.getLogger().getEffectiveLevel()))
            if not conn.poll(START_TIMEOUT_SECONDS):
                raise TimeoutError(f"no answer within {START_TIMEOUT_SECONDS:.0f}s")
            hello = conn.recv()
            if hello[0] != "ready":
                raise RuntimeError(hello[1])
        except BaseException:
            with self._send_lock:
                self._starting = None
            proc.kill()  # (a child that exited keeps its exit status)
            proc.wait()
            refused = code_refusal(proc, conn, hello)
            conn.close()
            parent_end.close()
            if refused is not None:
                raise refused from None
            raise
        with self._send_lock:
            self._conn, self._sock, self._proc, self._starting = conn, parent_end, proc, None
        assert hello is not None
        log.info("%s started: pid %d", self.label, hello[1])
        for sink in self.sinks.values():  # a close() in progress (a restart during its drain): this child drains and stops too
            for flag in CLOSE_FLAGS:
                if getattr(sink, flag).is_set():
                    self.signal(sink.name, flag)

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        if message[0] == "report":
            _, states, warnings, exited, changes = message
            for name, state in states.items():
                self.sinks[name].note_state(state)
            for name, found in warnings.items():
                self.sinks[name].note_warnings(found)
            apply(self.metrics, changes)
            for name in exited:
                self.sinks[name].note_ended()
        elif message[0] == "synced":
            with self._synced:
                self._synced_upto = max(self._synced_upto, message[1])
                self._synced.notify_all()

    # -- the end ------------------------------------------------------------------------------
    def ended(self, timeout: float) -> bool:
        """Whether the supervisor (and so its child) is done, waiting up to ``timeout``; call after :meth:`stop`."""
        if self._supervisor.ident is None:
            return True  # never started
        self._supervisor.join(timeout)
        return not self._supervisor.is_alive()

    def stop(self, timeout: float) -> bool:
        """No more restarts; close the socket (the child exits) and wait for it; kill it after ``timeout``.

        True if the child was running and exited by itself (its sinks drained); False if it had to be
        killed, or had died (a crash during the drain, or no child running at all: nothing was drained).
        """
        self._closing.set()
        with self._send_lock:
            sock, starting = self._sock, self._starting
        for end in (sock, starting):
            if end is not None:
                try:
                    end.shutdown(socket.SHUT_RDWR)  # EOF for the child and for the reader thread (or the wait for its hello)
                except OSError:
                    pass
        self._supervisor.join(timeout)
        clean = not self._supervisor.is_alive()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if not clean:
            self._supervisor.join(1.0)
        if sock is not None:
            sock.close()
        return clean and self._ended_by_itself
