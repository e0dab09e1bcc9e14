"""Benchmark: ingest acknowledgement latency of the sidecar under a steady load.

    python bench/bench_latency.py [--seconds 20] [--warmup 2] [--rate 50] [--batch 100] [--connections 4]
                                  [--sink file|elasticsearch]

What it does::

    authlog run (child process, loopback, fresh store, one sink: a file, or elasticsearch into the
                 fast counting _bulk endpoint of bench/endpoints in its own process)
      <- a steady open-loop load: request k is due at start + k / rate; each carries --batch events
         (NDJSON, pre-encoded); requests are dealt round-robin over --connections keep-alive
         connections, one thread each

and reports, per request, the time until its 202 (the events are durably committed):

- ack latency from the request's *scheduled* time (a request that could not leave on time
  because its connection was still waiting counts that wait: no coordinated omission),
- service time from the moment it was actually sent,

as p50 / p90 / p99 / max in ms over the requests after the first ``--warmup`` seconds (the sink
opens its client and installs its template then; those requests are sent and checked, not
timed), plus the sidecar's CPU seconds per 100k events and its peak RSS
(summed over its processes; the producer, this process, and the endpoint are excluded), and
checks that every event reached the sink once. The issue's target: p99 <= 20 ms at 100-event
requests, 50 requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from _measure import latency_line, percentile, stored_in_file
from _sidecar import Sidecar, make_bodies
from endpoints.elasticsearch import start_elasticsearch
from endpoints.process import Endpoint

# Why: after the load, the sink drains what is left; a healthy one needs well under this.
CATCH_UP_TIMEOUT_SECONDS = 300.0
# Why: the target for the 99th percentile of ingest acknowledgement latency.
TARGET_P99_SECONDS = 0.020
SINK = "bench"


def sink_table(kind: str, endpoint: Endpoint | None) -> str:
    if kind == "file":
        return f'[sinks.{SINK}]\ntype = "file"\npath = "./out/events.ndjson"\n'
    assert endpoint is not None
    return f'[sinks.{SINK}]\ntype = "elasticsearch"\nhosts = ["{endpoint.url}"]\nindex = "authlog"\n'


def load(port: int, payloads: list[bytes], rate: float, connections: int, warmup: int) -> tuple[list[float], list[float], list[str]]:
    """Post payload k at start + k / rate over ``connections`` connections; (ack latencies, service times, errors).

    The latencies of the first ``warmup`` requests are left out.
    """
    started = time.perf_counter() + 0.2  # Why: every thread is waiting on its first slot before it is due
    acks: list[float] = []
    services: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(first: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/x-ndjson"}
        for index in range(first, len(payloads), connections):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            conn.request("POST", "/v1/events", body=payloads[index], headers=headers)
            response = conn.getresponse()
            answer = response.read()
            done = time.perf_counter()
            with lock:
                if index >= warmup:
                    acks.append(done - due)
                    services.append(done - sent)
                if response.status != 202:
                    errors.append(f"{response.status} {answer[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acks, services, errors


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--seconds", type=float, default=20.0, help="timed seconds of load (after the warm-up)")
    cli.add_argument("--warmup", type=float, default=2.0, help="seconds of load first, sent but not timed")
    cli.add_argument("--rate", type=float, default=50.0, help="requests per second")
    cli.add_argument("--batch", type=int, default=100, help="events per request")
    cli.add_argument("--connections", type=int, default=4)
    cli.add_argument("--sink", choices=["file", "elasticsearch"], default="file")
    cli.add_argument("--seed", type=int, default=11)
    cli.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON (bench/peers/targets.py reads it)")
    args = cli.parse_args()

    warmup = int(args.warmup * args.rate)
    requests = warmup + int(args.seconds * args.rate)
    payloads = make_bodies(requests * args.batch, args.batch, args.seed)
    events = requests * args.batch
    endpoint = start_elasticsearch() if args.sink == "elasticsearch" else None
    try:
        with tempfile.TemporaryDirectory(prefix="authlog-latency-") as tmp, Sidecar(Path(tmp), sink_table(args.sink, endpoint)) as sidecar:
            tree = sidecar.tree
            with tree.sampling():
                cpu = tree.cpu_seconds()
                acks, services, errors = load(sidecar.port, payloads, args.rate, args.connections, warmup)
                caught_up = sidecar.caught_up(SINK, CATCH_UP_TIMEOUT_SECONDS)
                cpu = tree.cpu_seconds() - cpu
                peak_rss = tree.peak_rss_bytes()
            if endpoint is not None:
                counted = endpoint.count()
                stored, distinct = counted.events, counted.distinct
            else:
                stored, distinct = stored_in_file(Path(tmp) / "out" / "events.ndjson")
    finally:
        if endpoint is not None:
            endpoint.stop()

    far = "elasticsearch sink into the counting _bulk endpoint" if endpoint is not None else "file sink"
    print(f"authlog run, {far}; {args.batch}-event requests at {args.rate:g} requests/s for {args.seconds:g} s "
          f"over {args.connections} connections")  # fmt: skip
    print(f"  requests {requests} ({warmup} of warm-up, not timed), events {events}, answered 202: {requests - len(errors)}"
          + (f" (first error: {errors[0]})" if errors else ""))  # fmt: skip
    print("  " + latency_line("ack latency (from the scheduled time)", acks))
    print("  " + latency_line("service time (from the actual send)", services))
    p99 = percentile(sorted(acks), 0.99)
    print(f"  target p99 <= {TARGET_P99_SECONDS * 1000:.0f} ms: {'met' if p99 <= TARGET_P99_SECONDS else 'NOT met'}")
    once = caught_up and stored == distinct == events
    print(f"  at the sink: {stored} events, {distinct} distinct ids; every event once: {'yes' if once else 'NO'}")
    print(f"  sidecar CPU per 100k events: {cpu * 100_000 / events:.2f} s (user+sys, {tree.processes} process(es)); "
          f"peak RSS {peak_rss / 1024 / 1024:.0f} MiB (summed)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"p99_ms": p99 * 1000, "errors": len(errors), "exactly_once": once,
                                         "cpu_per_100k": cpu * 100_000 / events}))  # fmt: skip
    return 0 if once and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
