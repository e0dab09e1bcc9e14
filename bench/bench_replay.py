"""Benchmark: ``authlog replay`` from an S3 archive (moto) into the Elasticsearch stand-in.

    python bench/bench_replay.py [--events 50000] [--batch 5000] [--rate N]

The archive is written first by our own s3 sink (``--events`` sample events, gzip NDJSON objects of
``--batch`` events, partitioned by tenant) into moto's S3 server, which runs in its own process
beside the Elasticsearch stand-in. Then ``authlog replay --from s3://... --to-sink search`` runs as
a child with no sidecar, so it lists, reads, validates again, queues and delivers the sink itself
until it has drained. Measured: wall clock from the child's start to its exit, and the CPU seconds
and peak RSS of the child (``getrusage(RUSAGE_CHILDREN)`` once it is reaped; the far ends still run),
not of the far ends. Afterwards the stand-in
must hold every event once (distinct ids == events), else the script exits 1. Both far ends are
pure-Python stand-ins: the figure says as much about them as about the replay.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _repo  # this checkout first on sys.path (and REPO for the child)
import _stand_ins
from _measure import Figures, documents, ingest

from shippers.shipper import Shipper
from shippers.testing.moto_s3 import CREDENTIALS

BUCKET = "bench-replay"
INDEX = "authlog-replayed"
SEED = 11
# Why: the replayed range: sample events step back from now (shippers.samples), all within these days.
RANGE_DAYS = 2
# Why: a replay of 100k events into the stand-in takes about a minute; far past this it is stuck.
TIMEOUT_SECONDS = 900.0


def write_archive(folder: Path, s3_url: str, events: int, batch: int) -> None:
    config = {"buffer": {"path": str(folder / "writer")},
              "sinks": {"archive": {"type": "s3", "bucket": BUCKET, "endpoint_url": s3_url, "region": "us-east-1",
                                    "prefix": "authlog/", "partition_by": ["tenant"], "batch": {"max_events": batch}}}}
    with Shipper.from_config(config, deliver=True) as shipper:
        ingest(shipper, documents(events, SEED), 1000)
        assert shipper.flush(TIMEOUT_SECONDS), "the archive was not written"


def replay_config(folder: Path, es_url: str) -> Path:
    path = folder / "replay.toml"
    path.write_text(f'[buffer]\npath = "{folder / "replay-store"}"\n\n[sinks.search]\ntype = "elasticsearch"\n'
                    f'hosts = ["{es_url}"]\nindex = "{INDEX}"\n')
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000, help="events per archive object (the s3 sink's batch.max_events)")
    parser.add_argument("--rate", type=float, help="pass --rate N to the replay")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory() as tmp, _stand_ins.s3(BUCKET) as s3, _stand_ins.elasticsearch("elasticsearch", (INDEX,)) as es:
        folder = Path(tmp)
        write_archive(folder, s3.url, args.events, args.batch)
        command = [sys.executable, "-m", "shippers.cli", "replay", "-c", str(replay_config(folder, es.url)),
                   "--from", f"s3://{BUCKET}/authlog/", "--endpoint-url", s3.url, "--to-sink", "search",
                   "--since", f"{_days_ago(RANGE_DAYS)}"]
        if args.rate:
            command += ["--rate", str(args.rate)]
        env = {**os.environ, "PYTHONPATH": str(_repo.REPO)}
        label = f"replay moto -> ES stand-in ({args.batch}/object)"
        before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = child.communicate(timeout=TIMEOUT_SECONDS)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child is reaped: its whole CPU time is here
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(Figures(label, args.events, time.perf_counter() - wall, cpu, after.ru_maxrss * 1024).line())
        print(out.decode().strip().splitlines()[0] if out else "(no summary)")
        counted = es.count()
        if child.returncode != 0 or counted.distinct != args.events or counted.events != args.events:
            print(f"FAILED: exit {child.returncode}, stored {counted.events} copies of {counted.distinct} ids, expected {args.events}")
            return 1
    return 0


def _days_ago(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days)).isoformat().replace("+00:00", "Z")


if __name__ == "__main__":
    sys.exit(main())
