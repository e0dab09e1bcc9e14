"""Kill ``authlog run`` (SIGTERM and kill -9) at every step of a batch's life, restart it on the same store,
and check that every acknowledged event reached S3 under the key recorded for its batch (or sits in the DLQ).

Steps: cut but not recorded, recorded but not sent, received by the destination but not answered,
answered but not settled, settled. The in-process steps are reached with the launcher
:mod:`shippers.testing.pause`; "received" with a fault front that holds S3's answer.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from live_sidecar import POLL_SECONDS, READY_TIMEOUT_SECONDS, LiveSidecar, free_port

from shippers.samples import sample_events
from shippers.testing import pause
from shippers.testing.fault_front import FaultFront, Seen
from shippers.testing.moto_s3 import MotoS3

STEPS = ("cut", "recorded", "received", "answered", "settled")
EVENTS = 30
SINK = "archive"
_buckets = iter(range(1, 1000))


class PausedSidecar(LiveSidecar):
    """``authlog run`` started through the pause launcher (it pauses only when AUTHLOG_TEST_PAUSE is set)."""

    program = "from shippers.testing.pause import main; main()"


def keys_of_each_id(s3: MotoS3, bucket: str) -> dict[str, set[str]]:
    """Every event id found in ``bucket``, with the S3 keys it was written under."""
    keys_by_id: dict[str, set[str]] = {}
    for key, lines in s3.read_lines(bucket).items():
        for line in lines:
            keys_by_id.setdefault(line.get("metadata", {}).get("uid") or line.get("id"), set()).add(key)
    return keys_by_id


def is_object_put(method: str, path: str) -> bool:
    return method == "PUT" and len(path.split("?")[0].strip("/").split("/")) >= 2


@pytest.fixture(scope="module")
def s3_front() -> Iterator[tuple[MotoS3, FaultFront]]:
    with MotoS3() as s3, FaultFront(s3.url, is_object_put) as front:
        yield s3, front


def write_config(folder: Path, port: int, bucket: str, s3: MotoS3, endpoint: str) -> Path:
    path = folder / "authlog.toml"
    path.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\n\n[buffer]\npath = "./var/buf"\n\n'
        f'[sinks.{SINK}]\ntype = "s3"\nbucket = "{bucket}"\nendpoint_url = "{endpoint}"\nregion = "{s3.region}"\n'
        f'[sinks.{SINK}.retry]\ninitial = "50ms"\nmax = "500ms"\n'
        f'[sinks.{SINK}.batch]\nmax_events = 10\ntimeout = "100ms"\n'
    )
    return path


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not path.exists():
        assert time.monotonic() < deadline, f"the child never reached the step ({path} not written)"
        time.sleep(POLL_SECONDS)


def recorded_batches(folder: Path) -> dict[str, set[str]]:
    """The open batches in the store right now: recorded key -> the event ids in it."""
    with sqlite3.connect(f"file:{folder / 'var' / 'buf' / 'buffer.sqlite3'}?mode=ro", uri=True) as db:
        bodies = {seq: msgspec.json.decode(body)["id"] for seq, body in db.execute("SELECT seq, body FROM events")}
        batches: dict[str, set[str]] = {}
        for key, blob in db.execute("SELECT key, seqs FROM batches"):
            seqs = memoryview(blob).cast("q").tolist()
            batches[key] = {bodies[s] for s in seqs}
    return batches


def dead_letter_ids(folder: Path) -> set[str]:
    with sqlite3.connect(f"file:{folder / 'var' / 'buf' / 'buffer.sqlite3'}?mode=ro", uri=True) as db:
        return {msgspec.json.decode(body)["id"] for (body,) in db.execute("SELECT body FROM dead_letters")}


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("step", STEPS)
def test_stopped_at_a_step_of_a_batch_delivers_every_event_under_its_recorded_key(
    step: str, how: str, tmp_path: Path, s3_front: tuple[MotoS3, FaultFront], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped (SIGTERM or kill -9) at this step and restarted, the shipper delivers every acknowledged event
    to S3 once by key: under the key recorded for its batch, never under a second key, or into the DLQ."""
    s3, front = s3_front
    front.clear()
    started = time.monotonic()
    bucket = f"steps-{next(_buckets)}"
    s3.make_bucket(bucket)
    port = free_port()
    config = write_config(tmp_path, port, bucket, s3, front.url)
    marker = tmp_path / "pause"
    marker.mkdir()
    if step in pause.STEPS:
        monkeypatch.setenv(pause.ENVIRONMENT_VARIABLE, msgspec.json.encode({"type": "s3", "step": step, "folder": str(marker)}).decode())
    if step == "received":
        front.hold_next()
    events = list(sample_events(EVENTS, seed=STEPS.index(step) * 2 + (how == "SIGKILL")))
    acked = {e["id"] for e in events}

    child = PausedSidecar(config, port).start()
    try:
        assert child.client().send(events).accepted == EVENTS
        if step in pause.STEPS:
            wait_for(marker / pause.REACHED)
        elif step == "received":
            assert front.wait_held(READY_TIMEOUT_SECONDS), "S3 never received the held PUT"
        else:
            child.wait_caught_up(SINK, expected_delivered=EVENTS)
        at_stop = recorded_batches(tmp_path)
        if how == "SIGKILL":
            child.kill()
        else:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        (marker / pause.GO).touch()  # a SIGTERMed child goes on from the step and shuts down
        front.release()
        exit_code = child.proc.wait(READY_TIMEOUT_SECONDS) if child.proc else None
    finally:
        child.kill()
    if how == "SIGTERM":
        assert exit_code == 0, f"SIGTERM at {step}: exit code {exit_code}\n{child.log_text()}"

    monkeypatch.delenv(pause.ENVIRONMENT_VARIABLE, raising=False)
    restarted_at = time.monotonic()
    with LiveSidecar(config, port) as restarted:
        restarted.wait_caught_up(SINK)
        restarted.terminate()

    keys_by_id = keys_of_each_id(s3, bucket)
    dead = dead_letter_ids(tmp_path)
    missing = acked - set(keys_by_id) - dead
    assert not missing, f"{len(missing)} acknowledged events neither in S3 nor in the DLQ after {how} at {step}"
    twice = {i: k for i, k in keys_by_id.items() if len(k) > 1}
    assert not twice, f"events written under two keys after {how} at {step}: {twice}"
    for key, ids in at_stop.items():
        assert ids <= {i for i, k in keys_by_id.items() if key in k}, f"the batch recorded as {key} is not (all) under that key"
    puts: list[Seen] = [s for s in front.seen if s.at >= started and is_object_put(s.method, s.path)]
    if step == "settled":
        assert not [s for s in puts if s.at >= restarted_at], "a settled batch was sent again after the restart"
    if step in ("recorded", "received", "answered") and how == "SIGKILL":
        assert at_stop, f"no batch was recorded at {step}: the pause is not where this test thinks"
    if step == "cut":
        assert not at_stop, "a batch was recorded before the cut's transaction committed"


class QuickGraceSidecar(LiveSidecar):
    grace = "2s"


# Why: --grace 2s plus the time a Python process needs to exit; past this the shutdown is stuck.
EXIT_WITHIN_SECONDS = 2 + 10.0


def test_sigterm_while_the_destination_never_answers_exits_within_grace_and_loses_nothing(
    tmp_path: Path, s3_front: tuple[MotoS3, FaultFront]
) -> None:
    """SIGTERM while S3 holds its answer forever: the child still exits within its grace, and after a
    restart the batch it was sending is delivered under its recorded key (once: S3 has it already)."""
    s3, front = s3_front
    front.clear()
    bucket = f"steps-{next(_buckets)}"
    s3.make_bucket(bucket)
    port = free_port()
    config = write_config(tmp_path, port, bucket, s3, front.url)
    events = list(sample_events(EVENTS, seed=99))
    front.hold_next()
    child = QuickGraceSidecar(config, port).start()
    try:
        assert child.client().send(events).accepted == EVENTS
        assert front.wait_held(READY_TIMEOUT_SECONDS), "S3 never received the held PUT"
        at_stop = recorded_batches(tmp_path)
        assert child.proc is not None
        child.proc.send_signal(signal.SIGTERM)
        try:
            exit_code = child.proc.wait(EXIT_WITHIN_SECONDS)
        except Exception:
            exit_code = None
    finally:
        front.release()
        child.kill()
    assert exit_code is not None, f"SIGTERM with a hung destination: still running after {EXIT_WITHIN_SECONDS}s\n{child.log_text()}"
    with LiveSidecar(config, port) as restarted:
        restarted.wait_caught_up(SINK)
        restarted.terminate()
    keys_by_id = keys_of_each_id(s3, bucket)
    assert {e["id"] for e in events} <= set(keys_by_id)
    assert all(len(k) == 1 for k in keys_by_id.values())
    for key, ids in at_stop.items():
        assert ids <= {i for i, k in keys_by_id.items() if key in k}
    print(f"\nSIGTERM with a hung destination: exit code {exit_code}")
