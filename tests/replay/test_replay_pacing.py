"""Which partitions a range lists, and how the replay paces itself: --rate and the target's backlog (injected time)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from shippers.buffer.records import SinkRow
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.event import EventValidator
from shippers.replay.lines import LineReader
from shippers.replay.partitions import key_can_hold, partition_prefixes
from shippers.replay.run import BACKLOG_POLL_SECONDS, Replayer, ReplayRequest
from shippers.replay.sources import ArchiveObject

T0 = datetime(2026, 11, 10, 22, 30, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_a_range_lists_whole_days_as_days_and_the_rest_by_hour() -> None:
    """22:30 on the 10th to 02:00 on the 13th: two hours, one whole day (the 11th and 12th), two hours."""
    assert partition_prefixes(T0, at(13, 2)) == [
        "dt=2026-11-10/hour=22/", "dt=2026-11-10/hour=23/", "dt=2026-11-11/", "dt=2026-11-12/",
        "dt=2026-11-13/hour=00/", "dt=2026-11-13/hour=01/",
    ]


def test_keys_outside_the_hours_or_tenants_are_not_read() -> None:
    """A key's hour must overlap the range and its tenant= value be asked for; a key outside partitions is kept."""
    key = "p/dt=2026-11-10/hour={h}/tenant={t}/0-1-s.ndjson.gz"
    assert key_can_hold(key.format(h="22", t="t-1"), T0, at(11, 0), frozenset({"t-1"}))
    assert not key_can_hold(key.format(h="21", t="t-1"), T0, at(11, 0), None)
    assert not key_can_hold(key.format(h="22", t="t-2"), T0, at(11, 0), frozenset({"t-1"}))
    assert key_can_hold("p/loose.ndjson.gz", T0, at(11, 0), frozenset({"t-1"}))


class Clock:
    """Monotonic time that moves only when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeStore:
    """The two Buffer calls queueing makes, with a backlog that falls as the replay waits."""

    def __init__(self, backlogs: list[int]) -> None:
        self.backlogs = backlogs
        self.chunks: list[int] = []

    def sinks(self) -> list[SinkRow]:
        lag = self.backlogs.pop(0) if self.backlogs else 0
        return [SinkRow(name="search", type="file", watermark=0, cut_through=0, lag_events=0, lag_bytes=lag, in_flight=0,
                        delivered=0, duplicates=0, retries=0, dead_lettered=0, dropped=0, dlq_events=0, state="active",
                        last_error=None, last_delivery_at=None)]

    def append_replayed(self, events: list[Any], *, only_sink: str, checkpoint: tuple[str, str], expected: str | None) -> int:
        self.chunks.append(len(events))
        return 0

    def replay_checkpoints(self, run: str) -> dict[str, str]:
        return {}


class OneObject:
    url = "file:///fake"

    def __init__(self, lines: int) -> None:
        line = {"type": "login.completed", "time": "2026-11-10T05:00:00Z", "action": "a", "outcome": "success",
                "description": "d", "schemaVersion": 1}
        self.data = b"\n".join(msgspec.json.encode(dict(line, id=f"e{n}")) for n in range(lines))

    def objects(self, *args: Any) -> list[ArchiveObject]:
        return [ArchiveObject("one", len(self.data), "one")]

    def read(self, obj: ArchiveObject) -> bytes:
        return self.data


def replayer(store: FakeStore, clock: Clock, *, rate: float | None, lines: int, max_backlog: str = "1MiB",
             sink: dict[str, Any] | None = None, wall_start: float | None = None) -> Replayer:
    """A replay of one object of ``lines`` events at 05:00 on the 10th; the wall clock moves with ``clock`` from ``wall_start``."""
    target = sink or {"type": "file", "path": "/tmp/unused.ndjson"}
    config = config_from_dict({"buffer": {"path": str(Path("/nonexistent"))}, "sinks": {"search": {**target, "max_backlog": max_backlog}}})
    request = ReplayRequest(OneObject(lines), "search", at(10, 0), at(11, 0), rate=rate)  # type: ignore[arg-type]
    start = at(20, 0).timestamp() if wall_start is None else wall_start
    return Replayer(request, buffer=store, target=config.sinks["search"],  # type: ignore[arg-type]
                    reader=LineReader(EventValidator(builtin_catalog()), None, lambda: start + clock.now),
                    clock=lambda: start + clock.now, monotonic=clock, sleep=clock.sleep, store_max_bytes=1 << 30)


def test_rate_caps_events_per_second_in_chunks_of_a_second() -> None:
    """--rate 100 over 250 events queues chunks of 100, 100, 50 one second apart."""
    store, clock = FakeStore([]), Clock()
    assert replayer(store, clock, rate=100, lines=250).run().queued == 250
    assert store.chunks == [100, 100, 50]
    assert clock.sleeps == [1.0, 1.0]


def test_queueing_waits_while_the_backlog_is_above_half_the_cap() -> None:
    """With 1 MiB max_backlog, a backlog of 600 KiB then 550 KiB holds the chunk for two polls; 500 KiB lets it in."""
    store, clock = FakeStore([600 * 1024, 550 * 1024, 500 * 1024]), Clock()
    replayer(store, clock, rate=None, lines=10).run()
    assert clock.sleeps == [BACKLOG_POLL_SECONDS, BACKLOG_POLL_SECONDS]
    assert store.chunks == [10]


def test_events_a_long_wait_for_room_pushed_out_of_datadogs_window_are_skipped_not_queued() -> None:
    """Inside Datadog's window (less its margin) when read, 17h45m old; 10 minutes waiting for room later outside: skipped, counted, not queued."""
    read_at = at(10, 5).timestamp() + 17 * 3600 + 45 * 60
    polls = int(600 / BACKLOG_POLL_SECONDS)
    store, clock = FakeStore([600 * 1024] * polls + [0]), Clock()
    datadog = {"type": "datadog", "api_key": "dd-test-key-0123456789abcdef", "endpoint": "http://127.0.0.1:9"}
    summary = replayer(store, clock, rate=None, lines=10, sink=datadog, wall_start=read_at).run()
    assert clock.now == 600
    assert store.chunks == [0] and summary.queued == 0
    [(reason, skipped)] = summary.skipped.items()
    assert skipped == 10 and "Datadog" in reason
