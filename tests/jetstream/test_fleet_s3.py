"""S3 on a fleet keeps "a resend writes the same key": a member killed with kill -9 while its PUT was at S3 (the answer not
yet back) leaves the batch recorded in the cuts bucket; the member that takes over resends it as recorded (the S3 adapter
finds the recorded key holding this very batch: a duplicate), so S3 ends up holding each event once, in one object."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_sidecar import LiveSidecar

from shippers.client import RetryPolicy
from shippers.samples import sample_events
from shippers.testing.fault_front import FaultFront
from shippers.testing.moto_s3 import MotoS3
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.ports import free_port
from shippers.testing.waiting import wait_for

BUCKET = "authlog-fleet"
EVENTS = 40
# Why: the killed member's messages go to the other after ack_wait; short, so the test does not wait 30 s.
ACK_WAIT = "2s"
# Why: moto answers in milliseconds; the takeover waits ack_wait and a fetch or two.
TAKEOVER_DEADLINE_SECONDS = 60.0


def is_put(method: str, path: str) -> bool:
    return method == "PUT" and path.strip("/").count("/") >= 1  # an object, not the bucket


def member(folder: Path, server: NatsCluster, front: FaultFront, s3: MotoS3) -> LiveSidecar:
    folder.mkdir(parents=True)
    port = free_port()
    config = folder / "authlog.toml"
    servers = ", ".join(f'"{url}"' for url in server.urls)
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\ningest = "thread"\n\n'
        f'[buffer]\nkind = "jetstream"\nservers = [{servers}]\nreplicas = 1\nack_wait = "{ACK_WAIT}"\n\n'
        f'[sinks.archive]\ntype = "s3"\nbucket = "{BUCKET}"\nendpoint_url = "{front.url}"\nregion = "{s3.region}"\nstart_at = "oldest"\n'
        '[sinks.archive.retry]\ninitial = "50ms"\nmax = "200ms"\n'
        f'[sinks.archive.batch]\nmax_events = {EVENTS}\ntimeout = "100ms"\n'
    )
    return LiveSidecar(config, port)


@pytest.fixture
def world(tmp_path: Path, nats_server: NatsCluster) -> Iterator[dict[str, Any]]:
    with MotoS3() as s3, FaultFront(s3.url, is_put) as front:
        s3.make_bucket(BUCKET)
        started: list[LiveSidecar] = []
        try:
            yield {"root": tmp_path, "server": nats_server, "s3": s3, "front": front, "started": started}
        finally:
            front.clear()
            for sidecar in started:
                sidecar.kill()


def test_a_takeover_resends_the_dead_members_object_under_its_key(world: dict[str, Any]) -> None:
    """kill -9 of the member whose PUT reached S3 unanswered: the survivor resends the recorded batch, finds it at its recorded
    key (counted as 40 duplicates), writes no second object, and S3 holds every acknowledged event exactly once."""
    s3, front = world["s3"], world["front"]
    first = member(world["root"] / "m1", world["server"], front, s3).start()
    world["started"].append(first)
    front.hold_next()
    events = sample_events(EVENTS, seed=5)
    chunk = [next(events) for _ in range(EVENTS)]
    assert first.client(retry=RetryPolicy(attempts=1), timeout=10).send(chunk).accepted == EVENTS
    assert front.wait_held(TAKEOVER_DEADLINE_SECONDS), "the first member's PUT never reached S3"
    first.kill()  # the object is stored; the member never heard back, never acknowledged a message
    front.release()
    second = member(world["root"] / "m2", world["server"], front, s3).start()
    world["started"].append(second)
    status = second.wait_caught_up("archive", expected_delivered=0)
    wait_for(lambda: second.client().status()["sinks"]["archive"]["duplicates"] == EVENTS, "the survivor settling the batch",
             deadline_seconds=TAKEOVER_DEADLINE_SECONDS)
    [first_put] = [s.path for s in front.seen if is_put(s.method, s.path)]  # the survivor wrote no second object
    assert any(s.method == "HEAD" and s.path == first_put for s in front.seen)  # it found the recorded key holding the batch
    lines = s3.read_lines(BUCKET)
    assert len(lines) == 1
    assert sorted(line["id"] for object_lines in lines.values() for line in object_lines) == sorted(event["id"] for event in chunk)
    assert status["fleet"]["sinks"]["archive"]["pending"] == 0
