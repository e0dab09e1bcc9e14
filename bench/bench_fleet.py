"""Benchmark: a fleet's delivery scales out with its members (issue 12).

    python bench/bench_fleet.py [--events 20000] [--members 1,2,3] [--latency 50ms] [--replicas 1] [--plot FILE.png]

For each member count N: a fresh JetStream (one server for ``--replicas 1``, a 3-node cluster for 3),
a counting Elasticsearch ``_bulk`` endpoint in its own process that holds every answer
``--latency`` (50 ms, as a remote cluster would), then N ``authlog run`` members with one
Elasticsearch sink (``batch.max_events = 100``, ``concurrency = 1``), so delivery is bound by the
destination's latency and not by this machine's cores. Once every member is ready the bench
publishes ``--events`` events straight into the stream (as members' ingest would) and times until
the endpoint holds every one of them. events/s is the steady rate, while the 10th to the 90th
percent of the events arrive (the members' first fetches, the publishing and the tail left out), and
end to end (every event, from the first publish to the last arrival). CPU seconds per 100k events
are the members' own (every process of each ``authlog run``), not the servers' or the endpoint's.

Done when (issue 12): 3 members deliver at least 2.5x what one does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _repo  # noqa: F401 - this checkout first on sys.path, before shippers is imported
from _measure import ProcessTree
from _sidecar import start_run, stop
from endpoints.elasticsearch import start_elasticsearch

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.catalog import builtin_catalog
from shippers.config import BufferConfig
from shippers.event import EventValidator, encode_event
from shippers.samples import sample_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.ports import free_port
from shippers.units import parse_duration

INDEX = "authlog-fleet-bench"
STREAM = "BENCH"
# Why: the setting: one request of 100 events at a time per member, so a member's pace is
# 100 events per round trip and the fleet's is N times that while the cores keep up.
BATCH_EVENTS = 100
# Why: published in chunks of this many (each waits for the stream's acks), as a member's ingest would.
PUBLISH_CHUNK = 1000
# Why: a run that has not delivered after this long is stuck, not slow (1 member: ~10 s per 20k events).
DELIVERY_TIMEOUT_SECONDS = 300.0
# Why: the bar for three members against one.
TARGET_SPEEDUP = 2.5


@dataclass
class Point:
    members: int
    per_second: float  # steady: between 10 % and 90 % of the events arriving (startup and tail left out)
    end_to_end: float  # every event, from the first publish to the last arrival
    cpu_per_100k: float
    seconds: float


# Why: the steady window: from the first tenth of the events to the ninth, so the members' first fetches,
# the publishing and the last partial batches do not weigh on the rate.
STEADY_FROM, STEADY_TO = 0.1, 0.9
# Why: how often the endpoint is asked for its count while the events arrive (a pipe round trip).
SAMPLE_SECONDS = 0.05


def arrivals(endpoint, events: int, started: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wait until the endpoint holds ``events`` distinct ids; (steady events/s, seconds from ``started`` to the last)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    low = high = None
    while True:
        distinct = endpoint.count().distinct
        now = time.perf_counter()
        if low is None and distinct >= events * STEADY_FROM:
            low = (now, distinct)
        if high is None and distinct >= events * STEADY_TO:
            high = (now, distinct)
        if distinct >= events:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {distinct} of {events} events arrived within {DELIVERY_TIMEOUT_SECONDS:.0f} s")
        time.sleep(SAMPLE_SECONDS)
    assert low is not None and high is not None
    steady = (high[1] - low[1]) / (high[0] - low[0]) if high[0] > low[0] else float("nan")
    return steady, time.perf_counter() - started


def member_config(folder: Path, port: int, servers: list[str], replicas: int, es_url: str) -> Path:
    urls = ", ".join(f'"{url}"' for url in servers)
    path = folder / "authlog.toml"
    path.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\ningest = "thread"\n\n'
        f'[buffer]\nkind = "jetstream"\nservers = [{urls}]\nstream = "{STREAM}"\nreplicas = {replicas}\n\n'
        f'[sinks.es]\ntype = "elasticsearch"\nhosts = ["{es_url}"]\nindex = "{INDEX}"\nconcurrency = 1\n'
        f"[sinks.es.batch]\nmax_events = {BATCH_EVENTS}\n"
    )
    return path


def start_member(folder: Path, servers: list[str], replicas: int, es_url: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = member_config(folder, port, servers, replicas, es_url)
    return start_run(folder, config, port, folder / "member.log", what="a member")


def stored_events(n: int, seed: int) -> list[tuple[object, bytes]]:
    validator = EventValidator(builtin_catalog(), clock=time.time)
    out = []
    for fields in sample_events(n, seed):
        event = validator.from_fields(dict(fields))
        out.append((event, encode_event(event)))
    return out


def measure(members: int, events: int, latency: float, replicas: int, folder: Path) -> Point:
    nodes = 3 if replicas > 1 else 1
    with NatsCluster(folder / "nats", size=nodes) as cluster, start_elasticsearch(answer_after=latency) as endpoint:
        procs = [start_member(folder / f"m{i}", cluster.urls, replicas, endpoint.url) for i in range(members)]
        try:
            publisher = JetStreamBuffer(BufferConfig(kind="jetstream", servers=cluster.urls, stream=STREAM, replicas=replicas,
                                                     emit_timeout=5.0), clock=time.time)
            batch = stored_events(events, seed=members)
            trees = [ProcessTree(proc.pid) for proc in procs]
            cpu_before = sum(tree.cpu_seconds() for tree in trees)
            started = time.perf_counter()
            for start in range(0, events, PUBLISH_CHUNK):
                publisher.append(batch[start : start + PUBLISH_CHUNK])  # type: ignore[arg-type]
            steady, seconds = arrivals(endpoint, events, started)
            cpu = sum(tree.cpu_seconds() for tree in trees) - cpu_before
            publisher.close()
            counted = endpoint.count()
            if counted.events != events:  # an event stored twice would count for the wrong member count
                raise SystemExit(f"{members} member(s): {counted.events} events stored for {events} sent")
        finally:
            for proc in procs:
                stop(proc)
    return Point(members, steady, events / seconds, cpu / events * 100_000, seconds)


def plot(path: str, points: list[Point], note: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install -e '.[bench]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.8))
    xs = [p.members for p in points]
    axes.plot(xs, [p.per_second for p in points], marker="o", label="delivered events/s")
    axes.plot(xs, [points[0].per_second * n for n in xs], linestyle="--", color="grey", label="linear (N x one member)")
    for p in points:
        axes.annotate(f"{p.per_second:,.0f}/s", (p.members, p.per_second), textcoords="offset points", xytext=(0, 8), ha="center")
    axes.set_xlabel("members (authlog run)")
    axes.set_ylabel("events/s delivered to Elasticsearch")
    axes.set_xticks(xs)
    axes.set_ylim(bottom=0)
    axes.legend()
    axes.set_title("Fleet mode: delivery scales with members")
    figure.text(0.01, 0.01, note, fontsize=8)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--members", default="1,2,3", help="member counts to measure, comma-separated")
    parser.add_argument("--latency", default="50ms", help="how long the endpoint holds each _bulk answer")
    parser.add_argument("--replicas", type=int, choices=(1, 3), default=1, help="1: one server; 3: a 3-node cluster, R3 stream")
    parser.add_argument("--plot", help="write a PNG of events/s against members")
    args = parser.parse_args()
    latency = parse_duration(args.latency)
    points = []
    for members in [int(n) for n in args.members.split(",")]:
        with tempfile.TemporaryDirectory(prefix="authlog-fleet-") as tmp:
            point = measure(members, args.events, latency, args.replicas, Path(tmp))
        points.append(point)
        print(f"{members} member(s): {point.per_second:,.0f} events/s steady ({point.end_to_end:,.0f}/s end to end: {point.seconds:.1f} s "
              f"for {args.events:,}), {point.cpu_per_100k:.2f} CPU s per 100k (members only)", flush=True)
    note = (f"{args.events:,} events, Elasticsearch answering after {latency * 1000:.0f} ms, batch.max_events={BATCH_EVENTS}, "
            f"concurrency=1, R{args.replicas}, {os.cpu_count()} CPUs")
    if len(points) > 1 and points[0].members == 1:
        speedup = points[-1].per_second / points[0].per_second
        verdict = "meets" if points[-1].members < 3 or speedup >= TARGET_SPEEDUP else "misses"
        end_to_end = points[-1].end_to_end / points[0].end_to_end
        print(f"{points[-1].members} members deliver {speedup:.2f}x what one does, steady ({end_to_end:.2f}x end to end; {verdict} the "
              f"{TARGET_SPEEDUP}x bar for 3); {note}")
    if args.plot:
        plot(args.plot, points, note)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
