"""A member's link to JetStream: the loop thread, the connection, the JetStream context, and calls that translate errors.

Every call from the core's threads goes through :meth:`Link.call`, which bounds it in time and
turns a nats failure into the store error producers and operators see (:mod:`.faults`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext

from shippers.buffer.jetstream.connection import API_TIMEOUT_SECONDS, connect
from shippers.buffer.jetstream.faults import store_error
from shippers.buffer.jetstream.loop import LoopThread
from shippers.config import BufferConfig
from shippers.errors import BufferError, BufferForkedError

T = TypeVar("T")
# Why: the first connect tries every server (2 s each) and, with reconnects forever, would not return
# on its own while none answers; past this a member says the cluster is unreachable.
FIRST_CONNECT_SECONDS = 10.0


class Link:
    """The loop, client and JetStream context of one member (or one CLI process)."""

    def __init__(self, config: BufferConfig, name: str) -> None:
        self.location = ", ".join(config.servers)
        self.pid = os.getpid()  # the loop thread does not cross a fork: a child must connect itself
        self.loop = LoopThread()
        self.on_fault: Callable[[BufferError], None] | None = None
        try:
            self.client: Client = self.loop.call(connect(config, name), FIRST_CONNECT_SECONDS)
        except BaseException as exc:
            self.loop.stop()
            raise store_error(exc, self.location, "connecting") from None
        self.js: JetStreamContext = self.client.jetstream(timeout=API_TIMEOUT_SECONDS)

    def call(self, coro: Coroutine[Any, Any, T], doing: str, timeout: float = API_TIMEOUT_SECONDS + 1.0) -> T:
        """Run ``coro`` on the loop; a failure leaves as a store error saying what it was ``doing``."""
        if os.getpid() != self.pid:
            coro.close()
            raise BufferForkedError(
                f"the JetStream connection to {self.location} was opened before this process forked (its loop thread is in the "
                "parent): call shippers.configure() after the fork (gunicorn: in post_fork), not before")
        try:
            return self.loop.call(coro, timeout)
        except Exception as exc:
            error = store_error(exc, self.location, doing)
            if self.on_fault is not None:
                self.on_fault(error)
            raise error from exc

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.loop.submit(coro)

    def close(self) -> None:
        """Close the connection and stop the loop (idempotent)."""
        if self.loop.loop.is_closed():
            return
        try:
            self.loop.call(self.client.close(), API_TIMEOUT_SECONDS)
        except Exception:  # closing a connection to a cluster that is gone: nothing left to do
            pass
        self.loop.stop()
