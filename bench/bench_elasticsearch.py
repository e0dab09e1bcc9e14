"""Benchmark: events end to end through the Shipper into the local Elasticsearch (or OpenSearch) stand-in.

    python bench/bench_elasticsearch.py [--events 100000] [--chunk 1000] [--flavor elasticsearch|opensearch]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` wire events in
chunks, then ``flush`` until the elasticsearch sink has delivered all of them (ECS mapping,
``_bulk`` NDJSON with ``create`` + ``_id``, the real ``elasticsearch`` v9 client (or the plain
``elastic_transport`` path for OpenSearch) with gzip over a loopback socket, per-item answers
from the stand-in). The stand-in runs in a child process, so the CPU and RSS figures are the
shipper's own. Batches use the adapter's defaults (1000 events / 5 MiB / 1 s) with a data stream.

Prints events/s (wall clock, ingest start to the last bulk answer), CPU seconds per 100k
events (user + system of this process, ``resource.getrusage``) and peak RSS (``ru_maxrss``),
and checks that every event landed exactly once by ``_id``.
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

DATA_STREAM = "logs-authlog-default"


def _serve(conn: Any, flavor: str) -> None:
    """Child process: run the stand-in, report its URL, then the number of stored _ids when asked."""
    from shippers.testing.fake_elasticsearch import FakeElasticsearch

    with FakeElasticsearch(flavor=flavor) as fake:  # type: ignore[arg-type]
        conn.send(fake.url)
        while True:
            message = conn.recv()
            if message == "count":
                conn.send(len(fake.documents(DATA_STREAM)))
            else:
                return


def wire_events(n: int) -> list[bytes]:
    """n realistic wire events cycling through the catalog (every type and reason), unique ids."""
    from shippers.catalog import builtin_catalog

    cases = [(k.name, r) for k in builtin_catalog() for r in [None, *k.reasons]]
    out = []
    for i in range(n):
        type_, reason = cases[i % len(cases)]
        event: dict[str, Any] = {
            "id": f"bench-{i:08d}", "type": type_, "tenantId": f"t-{i % 50}", "userId": f"u-{i % 5000}",
            "email": f"user{i % 5000}@example.com", "ip": f"203.0.113.{i % 250}",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
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
    parser.add_argument("--flavor", choices=("elasticsearch", "opensearch"), default="elasticsearch")
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, args.flavor), daemon=True)
    server.start()
    url = parent.recv()

    from shippers.shipper import Shipper

    events = wire_events(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "buffer": {"path": str(Path(tmp) / "buf")},
            "sinks": {
                "es": {"type": "elasticsearch", "hosts": [url], "flavor": args.flavor, "data_stream": DATA_STREAM}
            },
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
        status = shipper.status()["sinks"]["es"]
        shipper.close()

    parent.send("count")
    stored = parent.recv()
    parent.send("stop")
    server.join(10)

    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    wall = done - start
    print(f"flavor                 {args.flavor}")
    print(f"events                 {args.events}")
    print(f"stored by _id          {stored} (delivered {status['delivered']}, duplicates {status['duplicates']}, "
          f"dead-lettered {status['deadLettered']})")  # fmt: skip
    print(f"ingest only            {args.events / (ingested - start):,.0f} events/s")
    print(f"end to end             {args.events / wall:,.0f} events/s ({wall:.2f} s)")
    print(f"CPU per 100k events    {cpu * 100_000 / args.events:.2f} s (user+sys, shipper process)")
    print(f"peak RSS               {usage1.ru_maxrss / 1024:.0f} MiB")
    return 0 if stored == status["delivered"] == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
