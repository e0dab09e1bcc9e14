"""Benchmark: events end to end through the Shipper into the local Cloud Logging stand-in.

    python bench/bench_cloud_logging.py [--events 100000] [--chunk 1000] [--far-end counting|stand-in]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the cloud_logging sink has delivered all of them (map to
LogEntries, encode the ``entries.write`` body, the real ``google-cloud-logging`` client over a
loopback socket, ``200 {}`` from the far end). The far end runs in a child process, so the
CPU and RSS figures are the shipper's own: by default a fast counting endpoint
(bench/_far_ends.py), or ``--far-end stand-in`` for shippers.testing's FakeCloudLogging
(slower: it bounds events/s).

Prints events/s (ingest only, and wall clock from ingest start to last 200), CPU seconds per
100k events (user + system of this process) and peak RSS (see bench/_destination.py), and
checks that every event arrived exactly once by ``insertId``.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

import _destination

PROJECT = "bench-project"


def _serve(conn: Connection, far_end: str) -> None:
    """Child process: run the far end; count (distinct insertIds, copies) written."""
    if far_end == "counting":
        from _far_ends import CountingCloudLogging

        with CountingCloudLogging() as counting:
            _destination.answer(conn, counting.url, counting.counts)
        return
    from shippers.testing.fake_cloud_logging import FakeCloudLogging

    with FakeCloudLogging(projects=(PROJECT,)) as fake:

        def count() -> tuple[int, int]:
            stored = fake.by_insert_id()
            fake.reset()
            return len(stored), sum(len(c) for c in stored.values())

        _destination.answer(conn, fake.url, count)


def main() -> int:
    parser = _destination.parser(__doc__)
    parser.add_argument("--far-end", choices=["counting", "stand-in"], default="counting")
    args = parser.parse_args()

    def sink(url: str) -> dict[str, object]:
        return {"type": "cloud_logging", "project": PROJECT, "endpoint": url}

    run = _destination.run(_serve, (args.far_end,), "gcl", sink, args.events, args.chunk)
    distinct, copies = run.counted
    run.report(
        ("events", f"{args.events} (far end: {args.far_end})"), ("stored by insertId", f"{distinct} distinct, {copies} copies ({run.delivery})")
    )
    return 0 if distinct == copies == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
