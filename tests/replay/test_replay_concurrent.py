"""Two replays with the same arguments at once: each chunk's commit expects its checkpoint as its run left it, so each event is queued once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shippers.buffer.sqlite import SqliteBuffer
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.errors import ReplayConflictError
from shippers.event import EventValidator, decode_event
from shippers.replay.lines import LineReader
from shippers.replay.run import CHUNK_EVENTS, Replayer, ReplayRequest
from shippers.replay.sources import ArchiveObject
from shippers.testing.buffer_contract import sink_policy

NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
# Why: two and a half chunks, so the second run starts while the first has an object half queued.
LINES = CHUNK_EVENTS * 5 // 2


class OneObject:
    url = "file:///archive"

    def __init__(self) -> None:
        line = {"type": "login.completed", "time": "2026-11-10T05:00:00Z", "schemaVersion": 1}
        self.data = b"\n".join(msgspec.json.encode(dict(line, id=f"e{n}")) for n in range(LINES)) + b"\n"

    def objects(self, *_: Any) -> list[ArchiveObject]:
        return [ArchiveObject("one.ndjson", len(self.data), "one")]

    def read(self, obj: ArchiveObject) -> bytes:
        return self.data


class Then:
    """A progress sink that runs ``action`` once, after the first chunk its run queued."""

    def __init__(self, action: Any) -> None:
        self.action = action

    def started(self, objects: int, size: int) -> None:
        pass

    def advanced(self, *, objects: int = 0, size: int = 0, events: int = 0) -> None:
        if events and self.action is not None:
            action, self.action = self.action, None
            action()


def replayer(store: SqliteBuffer, source: OneObject, progress: Any = None) -> Replayer:
    config = config_from_dict({"buffer": {"path": str(Path("/nonexistent"))},
                               "sinks": {"search": {"type": "file", "path": "/tmp/unused.ndjson"}}})
    request = ReplayRequest(source, "search", datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))  # type: ignore[arg-type]
    return Replayer(request, buffer=store, target=config.sinks["search"], progress=progress,
                    reader=LineReader(EventValidator(builtin_catalog()), None, lambda: NOW),
                    clock=lambda: NOW, monotonic=lambda: 0.0, sleep=lambda _: None, store_max_bytes=1 << 30)


def test_a_second_run_started_mid_object_and_the_first_never_both_queue_a_chunk(tmp_path: Path) -> None:
    """The second run continues after the first's chunk; the first then finds its checkpoint moved and stops: every id is stored once."""
    first_store = SqliteBuffer(tmp_path / "store", max_bytes=1 << 30, clock=lambda: NOW)
    assert first_store.acquire_delivery_lock()
    first_store.register_sinks([sink_policy("search", type="file")])
    second_store = SqliteBuffer(tmp_path / "store", max_bytes=1 << 30, clock=lambda: NOW)
    source = OneObject()
    second = replayer(second_store, source)
    first = replayer(first_store, source, Then(second.run))
    with pytest.raises(ReplayConflictError, match="another replay with the same arguments"):
        first.run()
    assert second.summary.queued == LINES - CHUNK_EVENTS
    ids = Counter(decode_event(row.body).id for row in first_store.scan(0, 10 * LINES))
    assert len(ids) == LINES and set(ids.values()) == {1}
    assert first_store.replay_checkpoints(first.request.run_id) == {"one": f"done {LINES}"}
    first_store.close()
    second_store.close()
