"""Benchmark: events end to end through the Shipper into the local Cloud Logging stand-in.

    python bench/bench_cloud_logging.py [--events 100000] [--chunk 1000]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` wire events in
chunks, then ``flush`` until the cloud_logging sink has delivered all of them (map to
LogEntries, encode the ``entries.write`` body, the real ``google-cloud-logging`` client over a
loopback socket, ``200 {}`` from the stand-in). The stand-in runs in a child process, so the
CPU and RSS figures are the shipper's own.

Prints events/s (wall clock, ingest start to last 200), CPU seconds per 100k events
(user + system of this process, ``resource.getrusage``) and peak RSS (``ru_maxrss``), and
checks that every event arrived exactly once by ``insertId``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = "bench-project"


def _serve(conn: Any) -> None:
    """Child process: run the stand-in, report its URL, then (distinct insertIds, copies) when asked."""
    from shippers.testing.fake_cloud_logging import FakeCloudLogging

    with FakeCloudLogging(projects=(PROJECT,)) as fake:
        conn.send(fake.url)
        while True:
            message = conn.recv()
            if message == "count":
                stored = fake.by_insert_id()
                conn.send((len(stored), sum(len(c) for c in stored.values())))
                fake.reset()
            else:
                return


def wire_events(n: int) -> list[bytes]:
    """n realistic wire events cycling through the catalog (every type and reason)."""
    from shippers.catalog import builtin_catalog

    cases = [(k.name, r) for k in builtin_catalog() for r in [None, *k.reasons]]
    out = []
    for i in range(n):
        type_, reason = cases[i % len(cases)]
        event: dict[str, Any] = {
            "type": type_, "tenantId": f"t-{i % 50}", "userId": f"u-{i % 5000}", "email": f"user{i % 5000}@example.com",
            "ip": f"203.0.113.{i % 250}", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "traceId": f"{i:032x}", "details": {"attempt": i % 5, "client": "web"},
        }  # fmt: skip
        if reason:
            event["reason"] = reason
        out.append(json.dumps(event).encode())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000, help="events per ingest_raw call (one HTTP request's worth)")
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()

    from shippers.shipper import Shipper

    events = wire_events(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "buffer": {"path": str(Path(tmp) / "buf")},
            "sinks": {"gcl": {"type": "cloud_logging", "project": PROJECT, "endpoint": url}},
        }
        shipper = Shipper.from_config(config, deliver=True)
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        for offset in range(0, len(events), args.chunk):
            result = shipper.ingest_raw(events[offset : offset + args.chunk])
            assert not result.rejected, result.rejected[:3]
        ingested = time.perf_counter()
        if not shipper.flush(timeout=600):
            print("flush timed out", file=sys.stderr)
            return 1
        done = time.perf_counter()
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        status = shipper.status()["sinks"]["gcl"]
        shipper.close()

    parent.send("count")
    distinct, copies = parent.recv()
    parent.send("stop")
    server.join(10)

    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    wall = done - start
    print(f"events                 {args.events}")
    print(f"stored by insertId     {distinct} distinct, {copies} copies "
          f"(delivered {status['delivered']}, dead-lettered {status['deadLettered']})")  # fmt: skip
    print(f"ingest only            {args.events / (ingested - start):,.0f} events/s")
    print(f"end to end             {args.events / wall:,.0f} events/s ({wall:.2f} s)")
    print(f"CPU per 100k events    {cpu * 100_000 / args.events:.2f} s (user+sys, shipper process)")
    print(f"peak RSS               {usage1.ru_maxrss / 1024:.0f} MiB")
    return 0 if distinct == copies == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
