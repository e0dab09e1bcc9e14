"""Benchmark: events end to end through the Shipper into a local S3 (moto's server).

    python bench/bench_s3.py [--events 100000] [--chunk 1000] [--format ndjson|ocsf] [--tenants] [--far-end counting|moto]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the s3 sink has acknowledged all of them (map, gzip NDJSON, real
boto3 ``PutObject`` with ``IfNoneMatch`` over a loopback socket, 200 from the far end). The far
end runs in a child process, so the CPU and RSS figures are the shipper's own: by default a fast
counting S3 (bench/_far_ends.py), or ``--far-end moto`` for moto's server; either way the child
counts the lines and distinct ids of every object, so a lost or doubled event fails the run.

Prints events/s (ingest only, and wall clock from ingest start to last acknowledgement), CPU
seconds per 100k events (user + system of this process) and peak RSS; see bench/_destination.py.
"""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection
from typing import Any

import _destination

BUCKET = "bench-archive"


def _serve(conn: Connection, far_end: str) -> None:
    """Child process: run the far end; count (objects, lines, distinct ids) stored."""
    if far_end == "counting":
        from _far_ends import CountingS3

        with CountingS3() as counting:

            def counted() -> tuple[int, int, int]:
                distinct, copies = counting.counts()
                return counting.objects(), copies, distinct

            _destination.answer(conn, counting.url, counted)
        return
    from shippers.testing.moto_s3 import CREDENTIALS, MotoS3

    os.environ.update(CREDENTIALS)
    with MotoS3() as s3:
        s3.make_bucket(BUCKET)

        def count() -> tuple[int, int, int]:
            objects = s3.read_lines(BUCKET)
            ids = [line.get("id") or line["metadata"]["uid"] for lines in objects.values() for line in lines]
            return len(objects), len(ids), len(set(ids))

        _destination.answer(conn, s3.url, count)


def main() -> int:
    parser = _destination.parser(__doc__)
    parser.add_argument("--format", choices=["ndjson", "ocsf"], default="ndjson")
    parser.add_argument("--tenants", action="store_true", help='partition_by = ["tenant"] (one object per tenant)')
    parser.add_argument("--far-end", choices=["counting", "moto"], default="counting")
    args = parser.parse_args()

    from shippers.testing.moto_s3 import CREDENTIALS

    os.environ.update(CREDENTIALS)  # boto3's chain needs some credentials; moto accepts any

    def sink(url: str) -> dict[str, Any]:
        config = {"type": "s3", "bucket": BUCKET, "endpoint_url": url, "region": "us-east-1",
                  "prefix": "authlog/", "format": args.format}  # fmt: skip
        return config | ({"partition_by": ["tenant"]} if args.tenants else {})

    run = _destination.run(_serve, (args.far_end,), "archive", sink, args.events, args.chunk)
    objects, lines, unique = run.counted
    run.report(
        ("events", f"{args.events} (format {args.format}, partition_by tenant: {args.tenants}, far end: {args.far_end})"),
        ("in the bucket", f"{lines} lines, {unique} distinct ids, {objects} objects ({run.delivery})"),
    )
    return 0 if lines == unique == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
