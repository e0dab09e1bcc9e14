"""Benchmark: events end to end through the Shipper into the local Datadog intake.

    python bench/bench_datadog.py [--events 100000] [--chunk 1000] [--far-end counting|stand-in]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the datadog sink has delivered all of them (map, encode, gzip, the
real ``datadog-api-client``'s pool over a loopback socket, 202 from the far end). The far end
runs in a child process, so the CPU and RSS figures are the shipper's own: by default a fast
counting intake (bench/_far_ends.py), or ``--far-end stand-in`` for shippers.testing's
FakeDatadog (slower: it bounds events/s). Every log must arrive exactly once by ``evt.id``.

Prints events/s (ingest only, and wall clock from ingest start to last 202), CPU seconds per
100k events (user + system of this process) and peak RSS; see bench/_destination.py.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

import _destination

KEY = "bench-dd-key"


def _serve(conn: Connection, far_end: str) -> None:
    """Child process: run the far end; count (distinct evt.ids, copies) it accepted with 202."""
    if far_end == "counting":
        from _far_ends import CountingDatadog

        with CountingDatadog(api_key=KEY) as counting:
            _destination.answer(conn, counting.url, counting.counts)
        return
    from shippers.testing.fake_datadog import FakeDatadog

    with FakeDatadog(api_key=KEY) as fake:

        def count() -> tuple[int, int]:
            ids = [item["evt"]["id"] for item in fake.items()]
            fake.reset()  # keep the child's memory flat between runs
            return len(set(ids)), len(ids)

        _destination.answer(conn, fake.url, count)


def main() -> int:
    parser = _destination.parser(__doc__)
    parser.add_argument("--far-end", choices=["counting", "stand-in"], default="counting")
    args = parser.parse_args()

    def sink(url: str) -> dict[str, object]:
        return {"type": "datadog", "api_key": KEY, "endpoint": url, "hostname": "bench"}

    run = _destination.run(_serve, (args.far_end,), "dd", sink, args.events, args.chunk)
    distinct, copies = run.counted
    run.report(
        ("events", f"{args.events} (far end: {args.far_end})"),
        ("arrived at the intake", f"{distinct} distinct evt.id, {copies} copies ({run.delivery})"),
    )
    return 0 if distinct == copies == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
