"""Benchmark: events end to end through the Shipper into a local S3 endpoint.

    python bench/bench_s3.py [--events 100000] [--chunk 1000] [--format ndjson|ocsf|ocsf-parquet] [--tenants]
                             [--sinks 1-4] [--batch N] [--stand-in] [--plot FILE.png]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the s3 sink(s) have acknowledged all of them (map, gzip NDJSON or
OCSF, or OCSF Parquet in Security Lake's layout, real boto3 ``PutObject`` with ``IfNoneMatch`` over a loopback socket, 200 + ETag). The far
end is the fast counting S3 endpoint (``bench/endpoints/s3.py``) in its own process, or with
``--stand-in`` moto's server; afterwards it counts the lines (Parquet: rows) and distinct ids of every object,
so a lost or doubled event fails the run. Each sink writes under its own prefix.

Prints events/s (ingest only, and wall clock from ingest start to last acknowledgement), CPU
seconds per 100k events and peak RSS of the shipper's processes; see bench/_destination.py.
``--plot`` sweeps batch sizes and 1-4 sinks instead and draws events/s.
"""

from __future__ import annotations

import sys

import _destination
import _sinks


def main() -> int:
    parser = _destination.parser(__doc__)
    parser.add_argument("--format", choices=["ndjson", "ocsf", "ocsf-parquet"], default="ndjson")
    parser.add_argument("--tenants", action="store_true", help='partition_by = ["tenant"] (one object per tenant)')
    args = parser.parse_args()
    destination = _sinks.s3(args.format, args.tenants)
    return _destination.main(destination, args, ("format", f"{args.format}, partition_by tenant: {args.tenants}"))


if __name__ == "__main__":
    sys.exit(main())
