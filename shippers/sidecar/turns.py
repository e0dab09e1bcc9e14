"""Validate one request's items in turns, so a huge request cannot make every other producer wait.

The sidecar validates on one thread (``SidecarState.validators``, a FIFO executor). Handed a
whole request at once, a body of 50,000 items holds that thread for the whole request while
every request behind it waits. :func:`validate_in_turns` hands the executor one turn of at most
``VALIDATE_TURN_ITEMS`` items at a time and queues the next turn only when one is done: a small
request that arrives meanwhile is queued before the big one's next turn, so it waits for one
turn, not for the whole big request (round-robin between requests, on the same single thread).

The turns of a request are joined by the shipper itself (``validate_raw(start=, into=)``): the
result is the one a single call would give (same indices, same order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from functools import partial
from typing import Any, Protocol

# Why: ~1000 items is ~5 ms of validation: long enough that the hand-offs cost nothing
# measurable, short enough that a producer queued behind a turn barely notices it.
VALIDATE_TURN_ITEMS = 1000


class ValidatesInTurns(Protocol):
    def validate_raw(self, items: Sequence[bytes], *, start: int = 0, into: Any = None) -> Any: ...


async def validate_in_turns(
    executor: Executor, shipper: ValidatesInTurns, items: Sequence[bytes], turn: int = VALIDATE_TURN_ITEMS
) -> Any:
    """``shipper.validate_raw(items)``, run on ``executor`` one turn of ``turn`` items at a time."""
    loop = asyncio.get_running_loop()
    validated = None
    for start in range(0, max(len(items), 1), turn):
        chunk = items[start : start + turn]
        validated = await loop.run_in_executor(executor, partial(shipper.validate_raw, chunk, start=start, into=validated))
    return validated
