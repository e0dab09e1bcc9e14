"""Benchmark the S3 sink's per-event work without a network: map + encode, NDJSON vs OCSF vs OCSF Parquet.

    python bench/bench_s3_encode.py [--events 100000] [--batch 10000]

For sample events of every catalog type (with the core's enrichment object: geo, AS, user agent,
as [enrich] stores it), measures on one core: the OCSF mapping alone (``S3Adapter.map``: OCSF
dict + JSON bytes), then each format's object bodies in batches of ``--batch`` (gzip NDJSON of
archive lines, gzip NDJSON of OCSF lines, one Parquet file per batch), and prints CPU µs per event
and the bytes per event of the bodies.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "adapters" / "s3"))
from _measure import documents
from s3_testkit import FULL_ENRICHMENT, enriched

from adapters.contract import SinkContext
from adapters.s3 import S3Adapter
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.event import EventValidator

LAKE = {"account_id": "123456789012", "region": "us-east-1", "sources": {"3002": "auth", "3001": "account"}}


def adapter(**keys: Any) -> S3Adapter:
    config = config_from_dict({"sinks": {"s": {"type": "s3", "bucket": "bench", **keys}}}).sinks["s"].adapter
    return S3Adapter(SinkContext(name="s", catalog=builtin_catalog(), clock=time.time), config)


def cpu_us_per_event(work: Any, events: int) -> float:
    start = time.process_time()
    work()
    return (time.process_time() - start) * 1e6 / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    validator = EventValidator(builtin_catalog())
    events = [enriched(validator.decode(doc), FULL_ENRICHMENT) for doc in documents(args.events, seed=3)]
    formats = {
        "ndjson": adapter(),
        "ocsf": adapter(format="ocsf", service_name="bench"),
        "ocsf-parquet": adapter(format="ocsf-parquet", service_name="bench", security_lake=LAKE),
    }
    ocsf = formats["ocsf"]
    print(f"{'OCSF map (dict + JSON)':<28} {cpu_us_per_event(lambda: [ocsf.map(e) for e in events], len(events)):6.2f} µs/event")
    for name, sink in formats.items():
        items = [sink.encode_item(sink.map(e)) for e in events]
        batches = [items[i : i + args.batch] for i in range(0, len(items), args.batch)]
        start = time.process_time()
        sizes = [len(sink.layout.body(batch)) for batch in batches]
        cost = (time.process_time() - start) * 1e6 / len(items)
        print(f"{name + ' body':<28} {cost:6.2f} µs/event   {sum(sizes) / len(items):7.1f} bytes/event in objects"
              f"   ({sum(len(i) for i in items) / len(items):.0f} bytes/event before)")


if __name__ == "__main__":
    main()
