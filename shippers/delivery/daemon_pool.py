"""A pool of daemon threads returning futures: a send that never returns must not keep the process from exiting.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter exits, so one send
hung on a destination that never answers would hold the sidecar past its shutdown grace (the
batch is recorded; the next start resends it). These threads are daemons: the process exits
on time and the hung send dies with it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = None


class DaemonPool:
    """``submit(fn, *args) -> Future`` on ``workers`` daemon threads; ``shutdown()`` lets them end once idle."""

    def __init__(self, workers: int, name: str) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._tasks.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        for _ in self._threads:
            self._tasks.put(_STOP)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)
