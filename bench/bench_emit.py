"""Benchmark: the in-process API, ``shippers.api.configure()`` then ``emit()`` from many threads.

    python bench/bench_emit.py [--events 100000] [--threads 8] [--sink file|elasticsearch|none|file-process]
                               [--switch-interval SECONDS]

What is measured: an app's threads each calling ``emit(type, **fields)`` (validate, then a
durable append to the store before it returns) as fast as they can, ``--events`` in all, split
over ``--threads`` threads that start together; the sink (a file, or elasticsearch into the fast
counting ``_bulk`` endpoint of bench/endpoints in its own process) delivers concurrently in the
same process, as it would in the app (``--sink none``: no sink, only the emits; ``--sink
file-process``: the file sink delivers from a second process, as another gunicorn worker holding
the delivery lock would, so the emits have this interpreter to themselves). The fields are built
before timing.

Prints:

- µs per event amortised: the wall time from the first call to the last return / events,
- p50 / p99 / max of a single ``emit()`` call (µs),
- the mean number of events per transaction (group commit),
- CPU seconds per 100k events (of this process, the app being the shipper here, and of the
  deliverer, if any) and the peak RSS of this process,
- what the hand-offs between the emitting threads cost this process: the share of its CPU spent in
  the kernel and its context switches per event (a blocked caller woken, a thread waiting for the
  interpreter lock); ``--switch-interval`` sets ``sys.setswitchinterval`` in this script (the
  library never changes it) to see whether the threads' interpreter-lock waits matter,

and checks, after a flush, that the sink holds every event once. The issue's targets: <= 30 µs
per event amortised and p99 <= 1 ms per call with 8 threads.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
from _measure import ProcessTree, percentile, stored_in_file
from endpoints.elasticsearch import start_elasticsearch
from endpoints.process import Endpoint

from shippers import api
from shippers.samples import sample_events

# Why: the targets for emit() from 8 threads.
TARGET_AMORTISED_US = 30.0
TARGET_P99_US = 1000.0
# Why: after the last emit the sink drains what is left; a healthy one needs well under this.
FLUSH_TIMEOUT_SECONDS = 300.0
SINK = "bench"


def sink_config(kind: str, folder: Path, endpoint: Endpoint | None) -> dict[str, Any]:
    if kind in ("file", "none", "file-process"):  # none: configured (a store needs a sink) but not started
        return {"type": "file", "path": str(folder / "out" / "events.ndjson")}
    assert endpoint is not None
    return {"type": "elasticsearch", "hosts": [endpoint.url], "index": "authlog"}


def deliver_elsewhere(config: dict[str, Any]) -> subprocess.Popen[str]:
    """A second process delivering from the store (this script with --deliverer); returned once it holds the lock."""
    child = subprocess.Popen([sys.executable, __file__, "--deliverer", json.dumps(config)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    if child.stdout.readline().strip() != "delivering":
        child.kill()
        raise SystemExit("the deliverer process did not get the delivery lock")
    return child


def finish_elsewhere(child: subprocess.Popen[str]) -> bool:
    """Tell the deliverer the emits are over (stdin closed): it flushes and ends; whether it caught up."""
    out, _ = child.communicate(timeout=FLUSH_TIMEOUT_SECONDS + 30)  # Why +30: its start-up and shutdown
    return out.strip() == "flushed"


def run_deliverer(config: str) -> int:
    """The --deliverer side: deliver until stdin closes, then flush and say whether everything went out."""
    shipper = api.configure(json.loads(config))
    print("delivering" if shipper.delivering else "standby", flush=True)
    sys.stdin.read()
    flushed = shipper.flush(timeout=FLUSH_TIMEOUT_SECONDS)
    api.shutdown()
    print("flushed" if flushed else "not flushed", flush=True)
    return 0


def hand_offs() -> tuple[float, float, int]:
    """This process so far: (user CPU seconds, kernel CPU seconds, context switches, voluntary or not)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_nvcsw + usage.ru_nivcsw


def emit_all(shares: list[list[dict[str, Any]]]) -> tuple[float, list[float]]:
    """Each thread emits its share once all have started; (wall seconds, every call's seconds)."""
    barrier = threading.Barrier(len(shares) + 1)
    calls: list[list[float]] = [[] for _ in shares]
    ends: list[float] = [0.0] * len(shares)

    def worker(index: int) -> None:
        timings = calls[index]
        clock = time.perf_counter
        barrier.wait()
        for fields in shares[index]:
            started = clock()
            api.emit(**fields)
            timings.append(clock() - started)
        ends[index] = clock()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(shares))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return max(ends) - started, [t for timings in calls for t in timings]


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--threads", type=int, default=8)
    cli.add_argument("--sink", choices=["file", "elasticsearch", "none", "file-process"], default="file")
    cli.add_argument("--seed", type=int, default=5)
    cli.add_argument("--switch-interval", type=float, help="sys.setswitchinterval for this run (default: Python's, 0.005)")
    cli.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON (bench/peers/targets.py reads it)")
    cli.add_argument("--deliverer", help=argparse.SUPPRESS)  # the second process of --sink file-process
    args = cli.parse_args()
    if args.deliverer:
        return run_deliverer(args.deliverer)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    events = list(sample_events(args.events, seed=args.seed))
    shares = [events[i :: args.threads] for i in range(args.threads)]
    endpoint = start_elasticsearch() if args.sink == "elasticsearch" else None
    tree = ProcessTree.shipper_here()  # the endpoint is already running: excluded
    try:
        with tempfile.TemporaryDirectory(prefix="authlog-emit-") as tmp, tree.sampling():
            folder = Path(tmp)
            config = {"buffer": {"path": str(folder / "buf")}, "sinks": {SINK: sink_config(args.sink, folder, endpoint)}}
            deliverer = deliver_elsewhere(config) if args.sink == "file-process" else None
            shipper = api.configure(config, deliver=args.sink in ("file", "elasticsearch"))
            cpu, before = tree.cpu_seconds(), hand_offs()
            wall, calls = emit_all(shares)
            cpu, after = tree.cpu_seconds() - cpu, hand_offs()
            group = shipper._emits.grouped / max(shipper._emits.groups, 1)  # the committer's own counts
            if deliverer is not None:
                flushed = finish_elsewhere(deliverer)
            else:
                flushed = args.sink == "none" or shipper.flush(timeout=FLUSH_TIMEOUT_SECONDS)
            peak_rss = tree.peak_rss_bytes()  # before the check below reads every row back
            held = shipper.buffer.scan(0, args.events + 1) if args.sink == "none" else []  # nothing delivered: the store
            api.shutdown()
            if args.sink == "none":
                stored, distinct = len(held), len({msgspec.json.decode(row.body)["id"] for row in held})
            elif endpoint is not None:
                counted = endpoint.count()
                stored, distinct = counted.events, counted.distinct
            else:
                stored, distinct = stored_in_file(folder / "out" / "events.ndjson")
    finally:
        if endpoint is not None:
            endpoint.stop()

    ordered = sorted(calls)
    amortised = wall / args.events * 1e6
    p50, p99 = percentile(ordered, 0.5) * 1e6, percentile(ordered, 0.99) * 1e6
    where = {"none": "no sink delivering", "file-process": "file sink delivering from a second process"}
    print(f"emit() from {args.threads} threads, {args.events} events, "
          f"{where.get(args.sink, f'{args.sink} sink delivering in the same process')}")  # fmt: skip
    print(f"  amortised          {amortised:8.1f} µs per event ({args.events / wall:,.0f} events/s; wall {wall:.2f} s)")
    print(f"  group commit       {group:8.1f} events per transaction")
    print(f"  per call           p50 {p50:8.1f} µs  p99 {p99:8.1f} µs  max {ordered[-1] * 1e6:9.1f} µs")
    met = amortised <= TARGET_AMORTISED_US and p99 <= TARGET_P99_US
    print(f"  targets (<= {TARGET_AMORTISED_US:.0f} µs amortised, p99 <= {TARGET_P99_US:.0f} µs): {'met' if met else 'NOT met'}")
    once = flushed and stored == distinct == args.events
    print(f"  at the sink: {stored} events, {distinct} distinct ids; every event once: {'yes' if once else 'NO'}")
    print(f"  CPU per 100k events (during the emits): {cpu * 100_000 / args.events:.2f} s; "
          f"peak RSS {peak_rss / 1024 / 1024:.0f} MiB (this process, fields built up front included)")  # fmt: skip
    user, kernel, switches = (b - a for a, b in zip(before, after, strict=True))
    print(f"  hand-offs          {kernel / max(user + kernel, 1e-9):8.0%} of this process's CPU in the kernel, "
          f"{switches / args.events:.2f} context switches per event"
          f"{f' (switch interval {sys.getswitchinterval() * 1e3:g} ms)' if args.switch_interval is not None else ''}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"amortised_us": amortised, "p50_us": p50, "p99_us": p99, "events_per_group": group,
                                         "cpu_per_100k": cpu * 100_000 / args.events, "exactly_once": once}))  # fmt: skip
    return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
