"""Benchmark: events end to end through the Shipper into a local S3 (moto's server).

    python bench/bench_s3.py [--events 100000] [--chunk 1000] [--format ndjson|ocsf] [--tenants]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` wire events in
chunks, then ``flush`` until the s3 sink has acknowledged all of them (map, gzip NDJSON, real
boto3 ``PutObject`` with ``IfNoneMatch`` over a loopback socket, 200 from moto). moto runs in a
child process, so the CPU and RSS figures are the shipper's own; afterwards the child reads
every object back and counts the lines, so a lost or doubled event fails the run.

Prints events/s (wall clock, ingest start to last acknowledgement), CPU seconds per 100k
events (user + system of this process, ``resource.getrusage``) and peak RSS (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUCKET = "bench-archive"


def _serve(conn: Any) -> None:
    """Child process: run moto's S3, report its URL, count stored lines and ids when asked."""
    from shippers.testing.moto_s3 import CREDENTIALS, MotoS3

    os.environ.update(CREDENTIALS)
    with MotoS3() as s3:
        s3.make_bucket(BUCKET)
        conn.send(s3.url)
        while conn.recv() == "count":
            objects = s3.read_lines(BUCKET)
            ids = [line.get("id") or line["metadata"]["uid"] for lines in objects.values() for line in lines]
            conn.send((len(objects), len(ids), len(set(ids))))


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
        }
        if reason:
            event["reason"] = reason
        out.append(json.dumps(event).encode())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000, help="events per ingest_raw call (one HTTP request's worth)")
    parser.add_argument("--format", choices=["ndjson", "ocsf"], default="ndjson")
    parser.add_argument("--tenants", action="store_true", help='partition_by = ["tenant"] (50 tenants: 50x the objects)')
    args = parser.parse_args()

    from shippers.testing.moto_s3 import CREDENTIALS

    os.environ.update(CREDENTIALS)  # boto3's chain needs some credentials; moto accepts any
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()

    from shippers.shipper import Shipper

    events = wire_events(args.events)
    sink: dict[str, Any] = {"type": "s3", "bucket": BUCKET, "endpoint_url": url, "region": "us-east-1",
                            "prefix": "authlog/", "format": args.format}
    if args.tenants:
        sink["partition_by"] = ["tenant"]
    with tempfile.TemporaryDirectory() as tmp:
        config = {"buffer": {"path": str(Path(tmp) / "buf")}, "sinks": {"archive": sink}}
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
        status = shipper.status()["sinks"]["archive"]
        shipper.close()

    parent.send("count")
    objects, lines, unique = parent.recv()
    parent.send("stop")
    server.join(10)

    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    wall = done - start
    print(f"events                 {args.events} (format {args.format}, partition_by tenant: {args.tenants})")
    print(f"in the bucket          {lines} lines, {unique} distinct ids, {objects} objects "
          f"(delivered {status['delivered']}, dead-lettered {status['deadLettered']})")
    print(f"ingest only            {args.events / (ingested - start):,.0f} events/s")
    print(f"end to end             {args.events / wall:,.0f} events/s ({wall:.2f} s)")
    print(f"CPU per 100k events    {cpu * 100_000 / args.events:.2f} s (user+sys, shipper process)")
    print(f"peak RSS               {usage1.ru_maxrss / 1024:.0f} MiB")
    return 0 if lines == unique == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
