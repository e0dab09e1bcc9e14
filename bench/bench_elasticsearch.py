"""Benchmark: events end to end through the Shipper into a local Elasticsearch (or OpenSearch) endpoint.

    python bench/bench_elasticsearch.py [--events 100000] [--chunk 1000] [--flavor elasticsearch|opensearch]
                                        [--sinks 1-4] [--batch N] [--stand-in] [--plot FILE.png]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the elasticsearch sink(s) have delivered all of them (ECS mapping,
``_bulk`` NDJSON with ``create`` + ``_id``, the real ``elasticsearch`` v9 client (or the plain
``elastic_transport`` path for OpenSearch) with gzip over a loopback socket). The far end is the
fast counting ``_bulk`` endpoint (``bench/endpoints/elasticsearch.py``) in its own process, or with
``--stand-in`` the pure-Python ``shippers.testing`` stand-in. Batches use the adapter's defaults
(1000 events / 5 MiB / 1 s) unless ``--batch``; each sink writes its own data stream.

Prints events/s (ingest only, and wall clock from ingest start to the last bulk answer), CPU
seconds per 100k events and peak RSS of the shipper's processes (see bench/_destination.py), and
checks that every event landed exactly once per sink by ``_id``. ``--plot`` sweeps batch sizes and
1-4 sinks instead and draws events/s.
"""

from __future__ import annotations

import sys

import _destination
import _sinks


def main() -> int:
    parser = _destination.parser(__doc__)
    parser.add_argument("--flavor", choices=("elasticsearch", "opensearch"), default="elasticsearch")
    args = parser.parse_args()
    return _destination.main(_sinks.elasticsearch(args.flavor), args, ("flavor", args.flavor))


if __name__ == "__main__":
    sys.exit(main())
