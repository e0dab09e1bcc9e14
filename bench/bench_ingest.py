"""Benchmark: HTTP ingest to durable commit (and on to the sink) through a real ``authlog run``.

What it does::

    authlog run (child process, loopback, fresh store in a temp folder, one sink)
      <- C client threads, each on one keep-alive connection, POST NDJSON batches of B events
         (bodies pre-encoded from shippers.samples, so the client spends little CPU)

and reports

- ingest events/s: events acknowledged with 202 (durably committed) / wall time of the posting,
- end-to-end events/s: events / time until the sink's lag is 0 (polled on /v1/status),
- server CPU seconds per 100k events (user + system of the sidecar and any process it spawns),
- the server's peak RSS (VmHWM summed over those processes); see bench/_measure.py.

Run it from the repository root::

    python bench/bench_ingest.py                       # 200k events, 4 connections, batches of 1000, file sink
    python bench/bench_ingest.py --events 500000 --connections 8 --sink memory --json

Linux only (/proc). The numbers include the sink working concurrently on the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import _repo  # noqa: F401 - this checkout first on sys.path, before shippers is imported
from _sidecar import Sidecar, make_bodies, post_all

# Why: how long the sink may take to drain the backlog after the last 202 before we give up.
CATCH_UP_TIMEOUT_SECONDS = 300.0

SINK_TABLES = {
    "file": '[sinks.bench]\ntype = "file"\npath = "./out/events.ndjson"\n',
    "memory": '[sinks.bench]\ntype = "memory"\n',
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    bodies = make_bodies(args.events, args.batch, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="authlog-bench-"))
    try:
        with Sidecar(folder, SINK_TABLES[args.sink], fsync=args.fsync) as sidecar:
            tree = sidecar.tree
            with tree.sampling():
                cpu_before = tree.cpu_seconds()
                started = time.perf_counter()
                accepted, requests, errors = post_all(sidecar.port, bodies, args.connections)
                ingest_seconds = time.perf_counter() - started
                cpu_ingest = tree.cpu_seconds() - cpu_before
                caught_up = sidecar.caught_up("bench", CATCH_UP_TIMEOUT_SECONDS)
                e2e_seconds = time.perf_counter() - started
                cpu_total = tree.cpu_seconds() - cpu_before
                peak_rss = tree.peak_rss_bytes()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "events": args.events, "batch": args.batch, "connections": args.connections, "sink": args.sink, "fsync": args.fsync,
        "accepted": accepted, "requests": requests, "errors": errors[:5], "error_count": len(errors),
        "ingest_seconds": round(ingest_seconds, 3),
        "ingest_events_per_second": round(accepted / ingest_seconds),
        "end_to_end_seconds": round(e2e_seconds, 3) if caught_up else None,
        "end_to_end_events_per_second": round(accepted / e2e_seconds) if caught_up else None,
        "server_cpu_seconds_per_100k_ingest": round(cpu_ingest / max(accepted, 1) * 100_000, 3),
        "server_cpu_seconds_per_100k_end_to_end": round(cpu_total / max(accepted, 1) * 100_000, 3),
        "server_peak_rss_mib": round(peak_rss / 1024 / 1024, 1),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="events per request (NDJSON)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--sink", choices=["file", "memory"], default="file")
    parser.add_argument("--fsync", choices=["batch", "always"], default="batch")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (store, output, sidecar.log)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['accepted']} events in {result['requests']} requests of {args.batch}, {args.connections} connections, "
          f"{args.sink} sink, fsync={args.fsync}, {result['cpus']} CPUs")
    print(f"  ingest -> durable commit : {result['ingest_events_per_second']:>9,} events/s ({result['ingest_seconds']} s)")
    if result["end_to_end_events_per_second"] is not None:
        print(f"  end to end (sink lag 0)  : {result['end_to_end_events_per_second']:>9,} events/s ({result['end_to_end_seconds']} s)")
    else:
        print("  end to end               : the sink did not catch up in time")
    print(f"  server CPU per 100k      : {result['server_cpu_seconds_per_100k_ingest']} s ingest, "
          f"{result['server_cpu_seconds_per_100k_end_to_end']} s end to end")
    print(f"  server peak RSS          : {result['server_peak_rss_mib']} MiB")
    if result["error_count"]:
        print(f"  {result['error_count']} failed requests, e.g. {result['errors'][0]}")


if __name__ == "__main__":
    main()
