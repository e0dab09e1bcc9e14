"""How many listings a range costs: a range of centuries (a typo in --since) lists the days the archive holds, not every day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from replay_kit import BASE, PREFIX, ArchiveWorld, wire_events

from shippers.replay.sources import S3Source


def counted(source: S3Source) -> list[dict[str, Any]]:
    """Every paginate() call the source makes, by its arguments."""
    client = source.client()
    real = client.get_paginator
    calls: list[dict[str, Any]] = []

    class Counting:
        def __init__(self, paginator: Any) -> None:
            self.paginator = paginator

        def paginate(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return self.paginator.paginate(**kwargs)

    client.get_paginator = lambda name: Counting(real(name))
    return calls


def test_a_range_of_centuries_lists_only_the_days_that_exist(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """--since 0026-11-01 (2026 mistyped) to now: one listing of the dt= partitions, then only the archive's two days; every object found."""
    events = archive(wire_events(days=2, hours=(5, 13), per_hour=2))
    source = S3Source(world.bucket, PREFIX, region=world.s3.region, endpoint_url=world.s3.url)
    calls = counted(source)
    found = source.objects(datetime(26, 11, 1, tzinfo=UTC), BASE + timedelta(days=30), None)
    assert len(calls) <= 3, len(calls)
    assert sum(1 for c in calls if c.get("Delimiter") == "/") == 1
    short = S3Source(world.bucket, PREFIX, region=world.s3.region, endpoint_url=world.s3.url)
    assert [o.key for o in found] == [o.key for o in short.objects(BASE, BASE + timedelta(days=2), None)]
    assert found and len(events) == 8
