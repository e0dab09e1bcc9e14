"""Shared harness for the destination benchmarks (bench_s3, bench_elasticsearch, bench_datadog, bench_cloud_logging).

A script supplies the stand-in it serves and the sink that points at it; this module does the rest:

- the stand-in runs in a spawned child process (so the CPU and RSS figures are the shipper's own),
  sends its URL over a Pipe, then answers each ``"count"`` with what it counted (:func:`answer`);
- the parent ingests ``--events`` sample events with ``ingest_raw`` in ``--chunk``-sized calls
  (validate + durable commit), then ``flush``es until the sink has delivered all of them;
- :meth:`Run.report` prints the script's own rows, then ingest-only and end-to-end events/s,
  CPU seconds per 100k events (this process, all threads) and peak RSS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _measure import Figures, documents, ingest, measure, peak_rss_mib

SEED = 7


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every destination benchmark takes: --events and --chunk."""
    cli = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--chunk", type=int, default=1000, help="events per ingest_raw call (one HTTP request's worth)")
    return cli


def answer(conn: Connection, url: str, count: Callable[[], Any]) -> None:
    """Child side: send the stand-in's URL, then ``count()`` for each "count", until any other message."""
    conn.send(url)
    while conn.recv() == "count":
        conn.send(count())


@dataclass
class Run:
    events: int
    ingest: Figures
    end_to_end: Figures
    peak_rss: float
    status: dict[str, Any]  # the sink's entry in Shipper.status()
    counted: Any  # what the stand-in answered to "count"

    @property
    def delivery(self) -> str:
        """What the sink says it did: "delivered N, dead-lettered M"."""
        return f"delivered {self.status['delivered']}, dead-lettered {self.status['deadLettered']}"

    def report(self, *rows: tuple[str, str]) -> None:
        """Print the script's (label, value) rows, then the shared figures."""
        wall = self.end_to_end.wall
        for label, value in [
            *rows,
            ("ingest only", f"{self.ingest.per_second:,.0f} events/s"),
            ("end to end", f"{self.end_to_end.per_second:,.0f} events/s ({wall:.2f} s)"),
            ("CPU per 100k events", f"{self.end_to_end.cpu_per_100k:.2f} s (user+sys, shipper process)"),
            ("peak RSS", f"{self.peak_rss:.0f} MiB"),
        ]:
            print(f"{label:<22} {value}")


def run(
    serve: Callable[..., None],
    serve_args: tuple[Any, ...],
    name: str,
    sink: Callable[[str], dict[str, Any]],
    events: int,
    chunk: int,
) -> Run:
    """Serve ``serve(conn, *serve_args)`` in a child, ship ``events`` into ``{name: sink(url)}``, ask the child to count.

    Exits with status 1 if the sink does not catch up within 10 minutes.
    """
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(child, *serve_args), daemon=True)
    server.start()
    url = parent.recv()

    from shippers.shipper import Shipper

    docs = documents(events, seed=SEED)
    taken: list[Figures] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = {"buffer": {"path": str(Path(tmp) / "buf")}, "sinks": {name: sink(url)}}
        shipper = Shipper.from_config(config, deliver=True)
        with measure("end to end", events, taken.append):
            with measure("ingest only", events, taken.append):
                ingest(shipper, docs, chunk)
            if not shipper.flush(timeout=600):
                sys.exit("flush timed out")
        peak_rss = peak_rss_mib()
        status = shipper.status()["sinks"][name]
        shipper.close()

    parent.send("count")
    counted = parent.recv()
    parent.send("stop")
    server.join(10)
    ingested, end_to_end = taken
    return Run(events, ingested, end_to_end, peak_rss, status, counted)
