"""A logging filter that lets a repeated message through once per interval, with a count of the rest.

Anything a client can make the sidecar log (a refused connection, asyncio's
"socket.accept() out of system resource" when descriptors run out, a bad request that
aiohttp reports) can be triggered thousands of times a second, and each line may carry a
traceback: 800 MB of log in 150 s was seen, which fills the disk the store lives on.

:class:`RepeatFilter` keys a record by logger, level and the first line of its *unformatted*
message (the ``%s`` template, so varying arguments count as the same message). The first
record of a key passes; later ones within ``interval`` seconds are dropped and counted; the
first one after the interval passes with "(N more like this in the last Xs were not logged)".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TypeVar

# Why: one line a minute per kind of problem keeps it visible without letting it fill a disk.
DEFAULT_INTERVAL_SECONDS = 60.0
# Why: keys are message templates, a bounded set in practice; the cap keeps a flood of
# distinct first lines (messages with text built in) from growing the table without end.
MAX_KEYS = 1024
# Why: a key is the message's first line cut to this length.
KEY_CHARS = 200
# The loggers a client can drive: the sidecar's own, aiohttp's server side, asyncio's loop.
CLIENT_TRIGGERED_LOGGERS = ("authlog.sidecar", "aiohttp.server", "aiohttp.web", "aiohttp.access", "asyncio")

_F = TypeVar("_F", bound=logging.Filter)


@dataclass
class _Seen:
    last: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Pass the first record of each key, then at most one per ``interval`` seconds (thread-safe)."""

    def __init__(self, interval: float = DEFAULT_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg).split("\n", 1)[0][:KEY_CHARS])
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen.last < self.interval:
                seen.suppressed += 1
                return False
            if seen is not None and seen.suppressed:
                # No '%' in the suffix, so a template with arguments still formats.
                record.msg = f"{record.msg} ({seen.suppressed} more like this in the last {now - seen.last:.0f}s were not logged)"
            if seen is None and len(self._seen) >= MAX_KEYS:
                self._forget_stale(now)
            self._seen[key] = _Seen(last=now)
        return True

    def _forget_stale(self, now: float) -> None:
        stale = [key for key, seen in self._seen.items() if now - seen.last >= self.interval]
        for key in stale or list(self._seen)[: MAX_KEYS // 2]:
            del self._seen[key]


@contextmanager
def filtering(log_filter: _F, names: tuple[str, ...]) -> Iterator[_F]:
    """Install ``log_filter`` on the loggers ``names`` for the duration of the block, and remove it after."""
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield log_filter
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)


def throttled(names: tuple[str, ...] = CLIENT_TRIGGERED_LOGGERS, interval: float = DEFAULT_INTERVAL_SECONDS) -> AbstractContextManager[RepeatFilter]:
    """Install one :class:`RepeatFilter` on the loggers ``names`` for the duration of the block."""
    return filtering(RepeatFilter(interval), names)
