"""authlog replay from an archive our s3 sink wrote to moto, into the Elasticsearch stand-in: range, filters, once."""

from __future__ import annotations

import gzip
import json
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from replay_kit import BASE, ArchiveWorld, cli_process, in_range, iso, run_cli, wire_events

from shippers.buffer.presence import DB_FILE
from shippers.buffer.sqlite import SqliteBuffer
from shippers.config import load_config
from shippers.shipper import Shipper
from shippers.testing.waiting import wait_for


def queued(world: ArchiveWorld) -> int:
    """How many events the replay store holds (only replays append to it in these tests)."""
    store = SqliteBuffer(world.folder / "replay-store", max_bytes=1 << 30)
    try:
        return store.last_seq()
    finally:
        store.close()


def wait_until_queued(world: ArchiveWorld, events: int) -> None:
    """Wait until a replay child has created its store and queued ``events``."""
    wait_for((world.folder / "replay-store" / DB_FILE).exists, "the replay's store", deadline_seconds=60)
    wait_for(lambda: queued(world) >= events, f"{events} events queued", deadline_seconds=60)


def test_a_range_and_filters_deliver_exactly_their_events_once(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """Replaying a range with --types and --tenants into Elasticsearch stores exactly the matching ids, each queued once."""
    events = archive(wire_events())
    since, until = BASE + timedelta(hours=5), BASE + timedelta(days=1, hours=14)
    config = world.config({"search": world.es_sink()})
    result = run_cli("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
                     "--since", iso(since), "--until", iso(until), "--types", "login.*", "--tenants", "t-1,t-2")
    assert result.exit_code == 0, result.output
    expected = {e["id"] for e in events
                if in_range(e, since, until) and e["type"].startswith("login.") and e.get("tenantId") in ("t-1", "t-2")}
    assert expected and set(world.delivered()) == expected
    assert queued(world) == len(expected)  # queued once each (nothing else was appended to this store)
    assert f"queued {len(expected)} event(s) for sink search" in result.output
    assert "Elasticsearch: each event is a `create`" in result.output


def test_a_second_run_with_the_same_arguments_queues_nothing_again(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """After a finished run, the same arguments find every object done: nothing is queued twice."""
    archive(wire_events(days=1))
    config = world.config({"search": world.es_sink()})
    args = ("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
            "--since", iso(BASE), "--until", iso(BASE + timedelta(days=1)))
    first = run_cli(*args)
    assert first.exit_code == 0, first.output
    second = run_cli(*args)
    assert second.exit_code == 0, second.output
    assert "queued 0 event(s)" in second.output and "finished by an earlier run" in second.output


def test_a_corrupt_object_and_a_bad_line_are_reported_and_skipped(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """A gzip object that does not gunzip and a line that is no event are named (key, line) and the rest is delivered."""
    events = archive(wire_events(days=1))
    client = world.s3.client()
    broken = "authlog/dt=2026-11-10/hour=05/tenant=t-1/00000000000000000001-00000000000000000001-other-aaaa.ndjson.gz"
    client.put_object(Bucket=world.bucket, Key=broken, Body=b"\x1f\x8b\x08\x00garbage")
    mixed = "authlog/dt=2026-11-10/hour=13/tenant=t-2/00000000000000000001-00000000000000000003-other-bbbb.ndjson.gz"
    good = dict(events[0], id="extra-1", action="User logged in", outcome="success", description="d", schemaVersion=1)
    body = b"\n".join([json.dumps(good).encode(), b"{not json", json.dumps(dict(good, id="extra-2", type="no.such")).encode()])
    client.put_object(Bucket=world.bucket, Key=mixed, Body=gzip.compress(body + b"\n"))
    config = world.config({"search": world.es_sink()})
    result = run_cli("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
                     "--since", iso(BASE), "--until", iso(BASE + timedelta(days=1)))
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"{broken}: not a readable gzip object" in output
    assert f"{mixed} line 2: not valid JSON" in output
    assert f"{mixed} line 3: type: unknown event type" in output
    assert set(world.delivered()) == {e["id"] for e in events} | {"extra-1"}


def test_kill_9_in_the_middle_then_a_second_run_delivers_each_event_once(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """A replay killed (SIGKILL) part-way and run again with the same arguments queues and delivers every event once."""
    until = BASE + timedelta(days=3)
    events = [e for e in archive(wire_events(per_hour=40)) if in_range(e, BASE, until)]
    config = world.config({"search": world.es_sink()})
    args = ("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
            "--since", iso(BASE), "--until", iso(until))
    child = cli_process(*args, "--rate", "150")  # slow enough to be killed part-way (the rate is not part of the run's identity)
    try:
        wait_until_queued(world, 150)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    queued_first = queued(world)
    assert 0 < queued_first < len(events)  # killed in the middle
    second = run_cli(*args)
    assert second.exit_code == 0, second.output
    assert set(world.delivered()) == {e["id"] for e in events}
    assert f"queued {len(events) - queued_first} event(s)" in second.output, (queued_first, second.output)
    assert queued(world) == len(events)  # each event queued exactly once over the two runs


def test_with_a_sidecar_delivering_replay_appends_and_the_sidecar_delivers(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """A process holding the delivery lock keeps it: replay only appends, and that process's worker delivers every event."""
    events = archive(wire_events(days=1))
    config = world.config({"search": world.es_sink()})
    with Shipper.from_config(load_config(config), deliver=True) as sidecar:
        assert sidecar.delivering
        result = run_cli("replay", "-c", str(config), "--from-sink", "archive", "--to-sink", "search",
                         "--since", iso(BASE), "--until", iso(BASE + timedelta(days=1)))
        assert result.exit_code == 0, result.output
        assert "the running sidecar delivers them to search" in " ".join(result.output.split())
        expected = {e["id"] for e in events if in_range(e, BASE, BASE + timedelta(days=1))}
        wait_for(lambda: set(world.delivered()) == expected, "the sidecar delivered the replayed events")
        assert sidecar.delivering  # it never gave its lock up


def test_a_delivering_process_without_the_target_sink_is_a_clear_error(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """When the process that delivers has no such sink, replay says so instead of queueing events nobody delivers."""
    archive(wire_events(days=1, hours=(5,), per_hour=2))
    other = world.config({"elsewhere": world.es_sink()})
    config = world.config({"search": world.es_sink()})  # the same store path: written after `other`
    with Shipper.from_config(load_config(other), deliver=True):
        result = run_cli("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
                         "--since", iso(BASE), "--until", iso(BASE + timedelta(days=1)))
    assert result.exit_code == 2
    assert "has no sink search: add it to that process's config" in " ".join(result.output.split())


def test_ctrl_c_stops_with_what_was_queued_kept_and_says_how_to_continue(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """SIGINT mid-run exits 130 saying how many were queued and that the same arguments continue."""
    archive(wire_events(per_hour=20))
    config = world.config({"search": world.es_sink()})
    child = cli_process("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
                        "--since", iso(BASE), "--until", iso(BASE + timedelta(days=3)), "--rate", "100")
    try:
        wait_until_queued(world, 100)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert "a second run with the same arguments continues" in " ".join(err.decode().split())
