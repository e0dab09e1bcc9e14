"""A fleet under load on a real 3-node JetStream cluster: `authlog run` members, an R3 stream, an Elasticsearch stand-in.

Producers send to the members round-robin, each chunk until a 202; meanwhile one member is killed
with kill -9 and so is the node leading the stream; a member started later joins. Every event a
producer got a 202 for must reach the destination; the only duplicates are resends (a chunk sent
again after a failed answer: the 202's "duplicates", or the destination's 409 for a batch a dead
member had sent but not acknowledged).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_sidecar import LiveSidecar

from shippers.client import ClientError, RetryPolicy
from shippers.samples import sample_events
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.ports import free_port
from shippers.testing.waiting import wait_for

INDEX = "authlog-fleet"
STREAM = "FLEET"
# Why: small chunks, so a kill lands between many requests and some of them in flight.
CHUNK = 25
# Why: enough chunks that the kills land mid-stream, few enough for CI (2 cores shared by the suite).
CHUNKS_PER_PRODUCER = 60
# Why: the client retries fast through a member's death and a leader election (a few seconds).
PRODUCER_RETRY = RetryPolicy(attempts=3, initial=0.05, max=0.5)
# Why: a dead member's batches go to the others after ack_wait; short, so the test does not wait 30 s.
ACK_WAIT = "2s"
# Why: a leader election and an ack_wait or two, plus draining the backlog on 2 cores.
ARRIVAL_DEADLINE_SECONDS = 90.0


def member_config(folder: Path, port: int, cluster: NatsCluster, es_url: str, ingest: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    servers = ", ".join(f'"{url}"' for url in cluster.urls)
    path = folder / "authlog.toml"
    path.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\ningest = "{ingest}"\n\n'
        f'[buffer]\nkind = "jetstream"\nservers = [{servers}]\nstream = "{STREAM}"\nreplicas = 3\nack_wait = "{ACK_WAIT}"\n'
        'emit_timeout = "2s"\n\n'
        f'[sinks.es]\ntype = "elasticsearch"\nhosts = ["{es_url}"]\nindex = "{INDEX}"\nstart_at = "oldest"\nconcurrency = 1\n'
        '[sinks.es.retry]\ninitial = "50ms"\nmax = "500ms"\n'
        '[sinks.es.batch]\nmax_events = 100\ntimeout = "100ms"\n'
    )
    return path


class Member(LiveSidecar):
    grace = "2s"


class Producer(threading.Thread):
    """Sends its chunks to the members in turn, each until some member answers 202; remembers what was acknowledged."""

    def __init__(self, members: list[Member], seed: int) -> None:
        super().__init__(name=f"producer-{seed}", daemon=True)
        self.members = members
        self.events = sample_events(CHUNK * CHUNKS_PER_PRODUCER, seed=seed)
        self.acked: list[str] = []
        self.duplicates = 0
        self.resent = 0
        self.refused = 0  # 503 answers (quorum loss, a member going away)

    @staticmethod
    def _counting_retries(client: Any) -> list[int]:
        """Count the client's own resends (it sleeps only before sending a request again): [count], updated in place."""
        retried = [0]
        sleep = client.sleep

        def counting_sleep(seconds: float) -> None:
            retried[0] += 1
            sleep(seconds)

        client.sleep = counting_sleep
        return retried

    def run(self) -> None:
        turn = 0
        for _ in range(CHUNKS_PER_PRODUCER):
            chunk = [next(self.events) for _ in range(CHUNK)]
            deadline = time.monotonic() + ARRIVAL_DEADLINE_SECONDS
            while time.monotonic() < deadline:
                member = self.members[turn % len(self.members)]
                turn += 1
                if member.proc is None or member.proc.poll() is not None:
                    continue
                client = member.client(retry=PRODUCER_RETRY, timeout=10)
                retried = self._counting_retries(client)
                try:
                    result = client.send(chunk)
                except ClientError as exc:
                    self.resent += 1
                    self.refused += exc.status == 503
                    continue
                finally:
                    self.resent += retried[0]  # the client itself sent it again after a lost answer or a 503
                if result.accepted == len(chunk):
                    self.acked += [event["id"] for event in chunk]
                    self.duplicates += result.duplicates
                    break


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with NatsCluster(tmp_path / "nats", size=3) as cluster, FakeElasticsearch() as es:
        members: list[Member] = []
        try:
            yield {"cluster": cluster, "es": es, "members": members, "root": tmp_path}
        finally:
            for member in members:
                member.kill()


def start_member(fleet: dict[str, Any], name: str, ingest: str = "thread") -> Member:
    """An `authlog run` member; ingest "thread" (one process: lighter on 2 cores) or "process" (the default)."""
    port = free_port()
    member = Member(member_config(fleet["root"] / name, port, fleet["cluster"], fleet["es"].url, ingest), port).start()
    fleet["members"].append(member)
    return member


def test_kill_9_of_a_member_and_of_the_stream_leader_loses_no_acknowledged_event(fleet: dict[str, Any]) -> None:
    """Under load, kill -9 of one member and of the stream's leader node: every acknowledged event reaches Elasticsearch,
    resends are the only duplicates, the survivors drain the backlog, and a member started later takes work."""
    cluster, es = fleet["cluster"], fleet["es"]
    doomed, survivor = start_member(fleet, "m1"), start_member(fleet, "m2")
    producers = [Producer([doomed, survivor], seed) for seed in (1, 2)]
    for producer in producers:
        producer.start()
    wait_for(lambda: sum(len(p.acked) for p in producers) >= 600, "600 events acknowledged", deadline_seconds=60)
    doomed.kill()
    leader = cluster.wait_for_stream_leader(STREAM)
    cluster.kill(leader)
    es.slow_next(40, seconds=0.2)  # a backlog builds up while the late member starts
    late = start_member(fleet, "m3")
    for producer in producers:
        producer.members.append(late)
    for producer in producers:
        producer.join(ARRIVAL_DEADLINE_SECONDS)
        assert not producer.is_alive(), "a producer did not get its events acknowledged"
    cluster.restart(leader)
    acked = [event_id for producer in producers for event_id in producer.acked]
    assert len(acked) == len(set(acked)) == CHUNK * CHUNKS_PER_PRODUCER * len(producers)
    wait_for(lambda: set(acked) <= set(es.documents(INDEX)), "every acknowledged event in Elasticsearch",
             deadline_seconds=ARRIVAL_DEADLINE_SECONDS, poll_seconds=0.2)
    status = late.wait_caught_up("es")
    assert status["fleet"]["sinks"]["es"]["pending"] == 0 and status["fleet"]["sinks"]["es"]["unacknowledged"] == 0
    assert status["fleet"]["sinks"]["es"]["ownDelivered"] > 0, "the late member took no work"
    assert {m["id"] for m in status["fleet"]["members"]} >= {status["fleet"]["member"]}
    # The only duplicates are of the documented kinds: a resent chunk the stream already held (counted in the 202),
    # or a batch the dead member had sent and not acknowledged (Elasticsearch answers 409; counted as the sink's duplicates).
    resent = sum(p.resent for p in producers)
    print(f"\nfleet: {len(acked)} acknowledged, {resent} chunk(s) resent, {sum(p.duplicates for p in producers)} duplicate(s) in 202s, "
          f"{sum(p.refused for p in producers)} 503(s); late member delivered {status['fleet']['sinks']['es']['ownDelivered']}; "
          f"redelivered by the consumer {status['fleet']['sinks']['es']['redelivered']}")
    assert sum(p.duplicates for p in producers) <= resent * CHUNK
    assert set(es.documents(INDEX)) == set(acked)


def test_quorum_loss_refuses_with_503_and_ingest_resumes_by_itself(fleet: dict[str, Any]) -> None:
    """With two of three nodes down a member answers 503 + Retry-After and stores nothing it acknowledges; with them back it
    takes events again without a restart, and every acknowledged event arrives."""
    cluster, es = fleet["cluster"], fleet["es"]
    member = start_member(fleet, "m1", ingest="process")  # the default: the ingest child publishes
    client = member.client(retry=RetryPolicy(attempts=1), timeout=10)
    before = [next(sample_events(1, seed=10))]
    assert client.send(before).accepted == 1
    down = [name for name in cluster.nodes if name != cluster.wait_for_stream_leader(STREAM)][:1] + [cluster.wait_for_stream_leader(STREAM)]
    for name in down:
        cluster.kill(name)
    refused = None
    events = sample_events(CHUNK, seed=11)
    chunk = [next(events) for _ in range(CHUNK)]
    try:
        client.send(chunk)
    except ClientError as exc:
        refused = exc
    assert refused is not None and refused.status == 503, refused
    assert "JetStream" in str(refused)
    for name in down:
        cluster.restart(name)
    cluster.wait_for_stream_leader(STREAM)

    def accepted() -> bool:
        try:
            return client.send(chunk).accepted == CHUNK
        except ClientError:
            return False

    wait_for(accepted, "a 202 once quorum is back", deadline_seconds=60, poll_seconds=0.5)
    wanted = {before[0]["id"], *(event["id"] for event in chunk)}
    wait_for(lambda: wanted <= set(es.documents(INDEX)), "the acknowledged events in Elasticsearch", deadline_seconds=60, poll_seconds=0.2)
