"""Benchmark: events end to end through the Shipper into the local Datadog intake.

    python bench/bench_datadog.py [--events 100000] [--chunk 1000]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the datadog sink has delivered all of them (map, encode, real
``datadog-api-client`` with gzip over a loopback socket, 202 from the stand-in). The
stand-in runs in a child process, so the CPU and RSS figures are the shipper's own.

Prints events/s (ingest only, and wall clock from ingest start to last 202), CPU seconds per
100k events (user + system of this process) and peak RSS; see bench/_destination.py.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

import _destination

KEY = "bench-dd-key"


def _serve(conn: Connection) -> None:
    """Child process: run the stand-in; count the items it accepted with 202."""
    from shippers.testing.fake_datadog import FakeDatadog

    with FakeDatadog(api_key=KEY) as fake:

        def count() -> int:
            accepted = sum((r.item_count or 0) for r in fake.requests() if r.status == 202)
            fake.reset()  # keep the child's memory flat between runs
            return accepted

        _destination.answer(conn, fake.url, count)


def main() -> int:
    args = _destination.parser(__doc__).parse_args()

    def sink(url: str) -> dict[str, object]:
        return {"type": "datadog", "api_key": KEY, "endpoint": url, "hostname": "bench"}

    run = _destination.run(_serve, (), "dd", sink, args.events, args.chunk)
    arrived = run.counted
    run.report(("events", str(args.events)), ("arrived at the intake", f"{arrived} ({run.delivery})"))
    return 0 if arrived == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
