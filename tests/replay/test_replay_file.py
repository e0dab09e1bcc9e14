"""authlog replay --from file://PATH: a file sink's output, rotated files included, into the Elasticsearch stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from replay_kit import BASE, ArchiveWorld, iso, run_cli, wire_events

from shippers.shipper import Shipper


def write_file_sink(world: ArchiveWorld, events: list[dict], path: Path, max_file_bytes: str = "4KiB") -> None:
    """Our file sink writes the events in small batches, so its output rotates (at ``max_file_bytes``)."""
    config = {"buffer": {"path": str(world.folder / "writer-store")},
              "sinks": {"out": {"type": "file", "path": str(path), "max_file_bytes": max_file_bytes, "batch": {"max_events": 10}}}}
    with Shipper.from_config(config, deliver=True) as shipper:
        for start in range(0, len(events), 10):
            assert shipper.ingest_raw([json.dumps(e).encode() for e in events[start:start + 10]]).accepted
            assert shipper.flush(30)


def test_rotated_files_are_replayed_with_the_current_one(world: ArchiveWorld) -> None:
    """Every event of a file sink's output, in its rotated files and the current one, is delivered once."""
    events = wire_events(days=1)
    path = world.folder / "out" / "events.ndjson"
    path.parent.mkdir()
    write_file_sink(world, events, path)
    assert len(list(path.parent.glob("events.ndjson.*"))) >= 2  # rotated at least twice
    config = world.config({"search": world.es_sink()})
    result = run_cli("replay", "-c", str(config), "--from", f"file://{path}", "--to-sink", "search",
                     "--since", iso(BASE), "--until", iso(BASE + timedelta(days=2)))
    assert result.exit_code == 0, result.output
    assert set(world.delivered()) == {e["id"] for e in events}
    assert f"queued {len(events)} event(s)" in result.output


def test_a_file_sink_cannot_replay_into_itself(world: ArchiveWorld) -> None:
    """The file sink whose output is the source is refused as the target (it would read its own appends)."""
    path = world.folder / "events.ndjson"
    path.write_text("")
    config = world.config({"out": {"type": "file", "path": str(path)}})
    result = run_cli("replay", "-c", str(config), "--from", f"file://{path}", "--to-sink", "out", "--since", iso(BASE))
    assert result.exit_code == 2
    assert "cannot be the target of its own output" in result.output


def test_lines_appended_after_a_run_are_replayed_by_the_next_one(world: ArchiveWorld) -> None:
    """The current file is never done: a second run (no --until) queues only what the sink wrote since, rotated or not."""
    path = world.folder / "out" / "events.ndjson"
    path.parent.mkdir()
    first, later = wire_events(days=1, hours=(5,)), wire_events(days=1, hours=(6,), prefix="later")
    write_file_sink(world, first, path, max_file_bytes="1MiB")
    config = world.config({"search": world.es_sink()})
    args = ("replay", "-c", str(config), "--from", f"file://{path}", "--to-sink", "search", "--since", iso(BASE))
    assert f"queued {len(first)} event(s)" in run_cli(*args).output
    write_file_sink(world, later, path, max_file_bytes="4KiB")  # the file that was current is rotated meanwhile
    assert list(path.parent.glob("events.ndjson.*"))
    again = run_cli(*args)
    assert f"queued {len(later)} event(s)" in again.output, again.output
    assert set(world.delivered()) == {e["id"] for e in first + later}
