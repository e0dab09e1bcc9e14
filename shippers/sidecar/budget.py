"""A byte budget for request bodies held in memory: each body reserves what it has read, chunk by chunk.

The sidecar reads a body *before* it takes an ingest slot (so a producer that trickles its
body only delays itself), which means the number of bodies being read is not bounded by the
slots. Memory is bounded here instead: every chunk read reserves its size from one shared
budget, and the whole reservation is given back when the request is done with the body and
its items. A slow producer holds only what it actually sent; a fast one waits only when the
bodies really in memory fill the budget, and then for at most ``wait`` seconds before it is
told to come back (503).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class BudgetExhausted(Exception):
    """No room came free within the wait: the caller answers 503 + Retry-After."""


class ByteBudget:
    """``total`` bytes shared by every body in flight; :meth:`hold` gives one request its account."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._freed = asyncio.Condition()

    async def reserve(self, size: int, wait: float) -> None:
        """Take ``size`` bytes (at most ``total``), waiting up to ``wait`` seconds for room."""
        size = min(size, self.total)
        async with self._freed:
            try:
                async with asyncio.timeout(wait):
                    await self._freed.wait_for(lambda: self.used + size <= self.total)
            except TimeoutError:
                raise BudgetExhausted(f"{self.used} of {self.total} bytes of request bodies are in memory") from None
            self.used += size

    async def release(self, size: int) -> None:
        async with self._freed:
            self.used -= min(size, self.used)
            self._freed.notify_all()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[BodyAccount]:
        """An account for one request; everything it reserved is released on exit."""
        account = BodyAccount(self)
        try:
            yield account
        finally:
            await self.release(account.held)


class BodyAccount:
    """What one request has reserved from a :class:`ByteBudget`."""

    def __init__(self, budget: ByteBudget) -> None:
        self.budget = budget
        self.held = 0

    async def reserve(self, size: int, wait: float) -> None:
        await self.budget.reserve(size, wait)
        self.held += min(size, self.budget.total)
