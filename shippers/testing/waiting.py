"""Wait for something another thread or process will do, with a bound: the one poll loop the tests share.

For what cannot be awaited directly (a worker thread's progress, a child process's file):
``wait_for(lambda: sink.delivered >= 10, "ten events at the sink")`` polls until the condition
holds and fails with what it waited for once the bound passes, so a test never hangs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Why: far longer than anything a healthy test waits for (milliseconds); a test that reaches it is broken.
DEFAULT_DEADLINE_SECONDS = 20.0
# Why: short enough not to slow a test down, long enough not to steal a core from the thread being waited on.
DEFAULT_POLL_SECONDS = 0.005


def wait_for(
    condition: Callable[[], object],
    what: str,
    *,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> None:
    """Return once ``condition()`` is true; raise AssertionError naming ``what`` after ``deadline_seconds`` (real time)."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up waiting ({deadline_seconds:g}s, real time) for: {what}")
        time.sleep(poll_seconds)
