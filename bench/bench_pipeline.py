"""Benchmark the core in-process: validate + durable commit, and end to end into the memory and file sinks.

    python bench/bench_pipeline.py [--events 100000] [--chunk 1000]

Prints events/s, CPU seconds per 100k events and peak RSS for:
  1. ingest -> durable commit (validation + one SQLite transaction per chunk), no sink running;
  2. end to end into the in-memory sink (ingest, commit, cut, map, deliver, ack);
  3. end to end into the file sink (NDJSON on local disk, fsync per batch).
The HTTP ingest path is measured by bench/bench_ingest.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import documents, ingest, measure

from shippers.shipper import Shipper
from shippers.testing import register_test_adapters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000, help="events per ingest call (one transaction each)")
    args = parser.parse_args()
    register_test_adapters()  # the memory sink is a test double: opt in
    docs = documents(args.events, seed=42)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        commit_only = Shipper.from_config({"buffer": {"path": str(folder / "a")}, "sinks": {"m": {"type": "memory"}}})
        with measure("ingest -> durable commit (no sink running)", args.events):
            ingest(commit_only, docs, args.chunk)
        commit_only.close()

        for label, sink in (
            ("end to end -> memory sink", {"type": "memory", "batch": {"max_events": 5000, "timeout": "50ms"}}),
            ("end to end -> file sink (fsync per batch)", {"type": "file", "path": str(folder / "out.ndjson")}),
        ):
            shipper = Shipper.from_config({"buffer": {"path": str(folder / label[-6:].strip())}, "sinks": {"s": sink}}).start()
            with measure(label, args.events):
                ingest(shipper, docs, args.chunk)
                assert shipper.flush(600), "the sink did not catch up"
            delivered = shipper.status()["sinks"]["s"]["delivered"]
            assert delivered == args.events, delivered
            shipper.close()


if __name__ == "__main__":
    main()
