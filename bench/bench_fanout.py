"""Benchmark: one shipper fanning every event out to all four destinations at once.

    python bench/bench_fanout.py [--events 100000] [--chunk 1000] [--batch N] [--stand-in] [--sidecar [--processes P]] [--plot FILE.png]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events, then
``flush`` until each of four sinks (elasticsearch, s3 NDJSON, datadog, cloud_logging) has
delivered every one of them, each through its real SDK client into its own fast counting
endpoint (``bench/endpoints``, one process each; ``--stand-in``: the ``shippers.testing``
stand-ins). Every event must be stored once at every far end.

Prints events/s into all four (events / wall time until the last sink caught up), CPU seconds
per 100k events and peak RSS summed over the shipper's processes (see bench/_destination.py), and
the far ends' CPU per 100k events. ``--sidecar`` runs the same sinks in ``authlog run`` instead, the
events posted over HTTP by this process (ingest then has its own process: bench/_fanout_sidecar.py).
``--plot`` sweeps batch sizes (each sink's batch.max_events, clamped to that sink's own limit:
Datadog takes at most 1000 logs per request) and 1-4 destinations (es; + s3; + datadog;
+ cloud_logging) instead and draws events/s. The issue's target: >= 30k events/s into all four.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import _destination
import _sinks

DESTINATIONS = (_sinks.elasticsearch(), _sinks.s3(), _sinks.datadog(), _sinks.cloud_logging())


def main() -> int:
    cli = _destination.parser(__doc__, sinks=False)
    cli.add_argument("--sidecar", action="store_true", help="ship through `authlog run` (events posted over HTTP)")
    cli.add_argument("--processes", help='with --sidecar: [delivery] processes ("auto", 0 = threads, N); default: authlog run\'s')
    cli.add_argument("--json", type=Path, metavar="FILE", help="with --sidecar: also write the figures to FILE as JSON (bench/peers/targets.py reads it)")
    args = cli.parse_args()
    endpoints = _destination.start(DESTINATIONS, args.stand_in)
    legs = [_destination.Leg(d, e) for d, e in zip(DESTINATIONS, endpoints, strict=True)]
    try:
        if args.sidecar:
            import _fanout_sidecar

            outcome = _fanout_sidecar.run(legs, args.events, args.chunk, args.batch, args.processes)
            once = _fanout_sidecar.report(outcome, args.events)
            if args.json:
                figures = outcome["figures"]
                args.json.write_text(json.dumps({"per_second": figures.per_second, "cpu_per_100k": figures.cpu_per_100k,
                                                 "peak_rss_mib": figures.peak_rss_mib, "exactly_once": once}))  # fmt: skip
            return 0 if once else 1
        if args.plot:
            from _plot import plot

            by_batch = _destination.sweep_batches(lambda n: legs, args, cap=True)
            by_sinks = _destination.sweep_sinks(lambda n: legs[:n], args)
            far = "stand-ins" if args.stand_in else "counting endpoints"
            note = "batch sizes clamped to each sink's limit (Datadog: 1000); sinks: es, +s3, +datadog, +cloud_logging"
            plot(args.plot, f"fan-out: {args.events:,} events into {far}", by_batch, by_sinks, note)
            print(f"plot written to {args.plot}")
            return 0
        result = _destination.run(legs, args.events, args.chunk, args.batch, cap=True)
        far = "stand-ins (shippers.testing)" if args.stand_in else "counting endpoints (bench/endpoints)"
        result.report(("events", f"{args.events} into each of 4 sinks"), ("far ends", far))
        return 0 if result.exactly_once else 1
    finally:
        for endpoint in endpoints:
            endpoint.stop()


if __name__ == "__main__":
    sys.exit(main())
