"""Deterministic sample events covering every catalog type and reason (``authlog send --samples``, demo, benchmarks).

Given the same ``seed``, ``now`` and catalog, :func:`sample_events` yields the same events:
ids are UUIDs drawn from the seeded generator (producer-assigned, so resends deduplicate where
the destination can), times step back from ``now`` so none is in the future. The types are
dealt round-robin, so any run of ``len(catalog) * max(reasons)`` events holds every type and
every reason; all values are documentation ranges (RFC 5737 / RFC 3849 addresses, example.com).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from shippers.catalog import Catalog, builtin_catalog
from shippers.event import format_time

# Why: a handful of tenants and users gives partitions and dashboards something to group by
# while keeping the sample small enough to eyeball.
TENANTS = ("t-acme", "t-globex", "t-initech", "t-umbrella")
USERS_PER_TENANT = 25
# Why: consecutive samples 10 ms apart keep a 100k-event run inside the last 20 minutes, well
# within every destination's accepted time window.
STEP_MS = 10
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0",
)


def _plan(catalog: Catalog) -> list[tuple[str, str | None]]:
    """(type, reason) pairs: every type once without a reason, then each reason once."""
    pairs: list[tuple[str, str | None]] = [(kind.name, None) for kind in catalog]
    pairs += [(kind.name, reason) for kind in catalog for reason in kind.reasons]
    return pairs


def sample_events(count: int, seed: int = 0, *, now: float | None = None, catalog: Catalog | None = None) -> Iterator[dict[str, Any]]:
    """``count`` wire-format events (dicts), deterministic for a given seed, ``now`` and catalog."""
    rng = random.Random(seed)
    pairs = _plan(catalog or builtin_catalog())
    start_ms = int((time.time() if now is None else now) * 1000) - count * STEP_MS
    for index in range(count):
        kind, reason = pairs[index % len(pairs)]
        tenant = TENANTS[rng.randrange(len(TENANTS))]
        user = rng.randrange(USERS_PER_TENANT)
        event: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": kind,
            "time": format_time(datetime.fromtimestamp((start_ms + index * STEP_MS) / 1000, UTC)),
            "tenantId": tenant,
            "userId": f"u-{user}",
            "email": f"user{user}@{tenant[2:]}.example.com",
            "ip": f"203.0.113.{rng.randrange(1, 255)}" if rng.random() < 0.8 else f"2001:db8::{rng.randrange(1, 0xFFFF):x}",
            "userAgent": USER_AGENTS[rng.randrange(len(USER_AGENTS))],
            "traceId": f"{rng.getrandbits(128):032x}",
        }
        if reason is not None:
            event["reason"] = reason
        if rng.random() < 0.25:
            event["details"] = {"sample": True, "attempt": rng.randrange(1, 6)}
        yield event
