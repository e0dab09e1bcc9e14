"""Benchmark: events end to end through the Shipper into the local Elasticsearch (or OpenSearch) stand-in.

    python bench/bench_elasticsearch.py [--events 100000] [--chunk 1000] [--flavor elasticsearch|opensearch]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the elasticsearch sink has delivered all of them (ECS mapping,
``_bulk`` NDJSON with ``create`` + ``_id``, the real ``elasticsearch`` v9 client (or the plain
``elastic_transport`` path for OpenSearch) with gzip over a loopback socket, per-item answers
from the stand-in). The stand-in runs in a child process, so the CPU and RSS figures are the
shipper's own. Batches use the adapter's defaults (1000 events / 5 MiB / 1 s) with a data stream.

Prints events/s (ingest only, and wall clock from ingest start to the last bulk answer), CPU
seconds per 100k events (user + system of this process) and peak RSS (see bench/_destination.py),
and checks that every event landed exactly once by ``_id``.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

import _destination

DATA_STREAM = "logs-authlog-default"


def _serve(conn: Connection, flavor: str) -> None:
    """Child process: run the stand-in; count the _ids stored in the data stream."""
    from shippers.testing.fake_elasticsearch import FakeElasticsearch

    with FakeElasticsearch(flavor=flavor) as fake:  # type: ignore[arg-type]
        _destination.answer(conn, fake.url, lambda: len(fake.documents(DATA_STREAM)))


def main() -> int:
    parser = _destination.parser(__doc__)
    parser.add_argument("--flavor", choices=("elasticsearch", "opensearch"), default="elasticsearch")
    args = parser.parse_args()

    def sink(url: str) -> dict[str, object]:
        return {"type": "elasticsearch", "hosts": [url], "flavor": args.flavor, "data_stream": DATA_STREAM}

    run = _destination.run(_serve, (args.flavor,), "es", sink, args.events, args.chunk)
    stored, status = run.counted, run.status
    outcome = (
        f"delivered {status['delivered']}, duplicates {status['duplicates']}, dead-lettered {status['deadLettered']}"
    )
    run.report(("flavor", args.flavor), ("events", str(args.events)), ("stored by _id", f"{stored} ({outcome})"))
    return 0 if stored == status["delivered"] == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
