"""One asyncio loop on a daemon thread: the nats client lives there, the core's threads call into it.

The delivery core runs on threads (a sink thread, its pool); nats-py is asyncio. :class:`LoopThread`
runs one event loop for the member's connection and :meth:`LoopThread.call` hands it a coroutine
from any other thread (``asyncio.run_coroutine_threadsafe``), waiting at most ``timeout``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")
# Why: background tasks end at their next await once cancelled; one that takes longer is stuck on I/O.
STOP_SECONDS = 5.0


class LoopThread:
    """An event loop running on its own thread until :meth:`stop`."""

    def __init__(self, name: str = "authlog-jetstream") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and return its result; TimeoutError (the coroutine cancelled) after ``timeout``."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.call from the loop's own thread would wait for itself")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g}s") from None

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Start ``coro`` on the loop without waiting for it (background work: heartbeats, renewals)."""
        asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        """Stop the loop and join its thread (idempotent)."""
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._cancel_the_rest(), self.loop).result(STOP_SECONDS)
            except (FutureTimeout, RuntimeError):
                pass  # a task that ignores cancellation: the loop stops anyway
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()

    async def _cancel_the_rest(self) -> None:
        """Cancel the background tasks (heartbeats, renewals) and let them end."""
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
