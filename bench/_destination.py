"""Shared harness for the destination benchmarks (bench_s3, bench_elasticsearch, bench_datadog,
bench_cloud_logging, bench_fanout).

A script names its destinations (``_sinks``); this module does the rest:

- each far end runs in a spawned child (``bench/endpoints``' fast counting endpoint, or with
  ``--stand-in`` the ``shippers.testing`` stand-in), so its CPU and memory are not the shipper's;
- each run's shipper is a fresh spawned process (``Shipper.from_config(deliver=True)``, a fresh
  store in a temp folder), so no run inherits an earlier one's heap; it ingests ``--events``
  sample events with ``ingest_raw`` in ``--chunk``-sized calls (validate + durable commit),
  then ``flush``es until every sink has delivered all of them;
- CPU seconds and peak RSS are those of that process and anything it spawns
  (``_measure.ProcessTree``), i.e. the whole shipper, not the far ends nor this harness;
- each far end is asked what it stored: every event must be there once per sink (distinct ids
  == events, copies == events x sinks), else the script exits 1;
- ``--plot FILE.png`` runs the sweeps instead (events/s against batch size, and against the
  number of sinks) and draws them (``_plot``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _measure import Figures, ProcessTree, documents, ingest, measure
from _sinks import Destination
from endpoints.process import Endpoint
from endpoints.tally import Counted

from shippers.errors import ConfigError

SEED = 7
# Why: the batch sizes the sweep tries (the 100, 500, 1000, 5000), each via batch.max_events.
BATCH_SIZES = (100, 500, 1000, 5000)
# Why: up to one sink per destination we ship to (the fan-out's four), for the sinks sweep.
MAX_SINKS = 4
# Why: the slowest stand-in delivers 100k events in a few minutes; a run past this is stuck.
FLUSH_TIMEOUT_SECONDS = 600.0


def parser(doc: str | None, *, sinks: bool = True) -> argparse.ArgumentParser:
    """The options every destination benchmark takes."""
    cli = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--chunk", type=int, default=1000, help="events per ingest_raw call (one HTTP request's worth)")
    cli.add_argument("--batch", type=int, default=None, help="batch.max_events of every sink (default: the sink's own)")
    if sinks:
        cli.add_argument("--sinks", type=int, default=1, choices=range(1, MAX_SINKS + 1),
                         help="sinks of this destination, each with its own index/prefix; each event goes to each")  # fmt: skip
    cli.add_argument("--stand-in", action="store_true", help="ship to the pure-Python shippers.testing stand-in instead")
    cli.add_argument("--plot", metavar="FILE.png", help="sweep batch sizes and sink counts and plot events/s")
    return cli


@dataclass(frozen=True)
class Leg:
    """One destination of a run: its far end and how many sinks ship to it."""

    destination: Destination
    endpoint: Endpoint
    sinks: int = 1

    def sink_configs(self, batch: int | None, *, cap: bool = False) -> dict[str, dict[str, Any]]:
        """Each sink's config; ``batch`` its batch.max_events (``cap``: at most the sink's own limit)."""
        if batch is not None and cap:
            batch = min(batch, self.destination.max_batch)
        extra = {"batch": {"max_events": batch}} if batch is not None else {}
        url = self.endpoint.url
        return {self.destination.sink_name(i): self.destination.sink(url, i) | extra for i in range(self.sinks)}


@dataclass
class Run:
    events: int
    ingest: Figures
    end_to_end: Figures
    statuses: dict[str, dict[str, Any]]  # each sink's entry in Shipper.status()
    counted: list[tuple[Leg, Counted]]  # what each far end stored
    far_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each far end used during the run

    @property
    def far_cpu_per_100k(self) -> float:
        """CPU seconds per 100k events of all the far ends together (the budget the shipper does not get)."""
        return sum(self.far_cpu.values()) * 100_000 / self.events if self.events else 0.0

    @property
    def exactly_once(self) -> bool:
        """Every event stored once per sink at every far end."""
        return all(c.distinct == self.events and c.events == self.events * leg.sinks for leg, c in self.counted)

    def report(self, *rows: tuple[str, str]) -> None:
        """Print the script's (label, value) rows, what each far end stored, then the figures."""
        wall = self.end_to_end.wall
        stored = [(f"at {leg.destination.label}", counted.line()) for leg, counted in self.counted]
        delivery = [(f"sink {name}", f"delivered {s['delivered']}, duplicates {s.get('duplicates', 0)}, "
                                     f"dead-lettered {s['deadLettered']}") for name, s in self.statuses.items()]  # fmt: skip
        for label, value in [
            *rows,
            *stored,
            *delivery,
            ("exactly once per sink", "yes" if self.exactly_once else "NO"),
            ("ingest only", f"{self.ingest.per_second:,.0f} events/s"),
            ("end to end", f"{self.end_to_end.per_second:,.0f} events/s into every sink ({wall:.2f} s)"),
            ("CPU per 100k events", f"{self.end_to_end.cpu_per_100k:.2f} s (user+sys, {self.end_to_end.processes} "
                                    "shipper process(es))"),  # fmt: skip
            ("peak RSS", f"{self.end_to_end.peak_rss_mib:.0f} MiB (VmHWM summed over the shipper's processes)"),
            ("far ends' CPU per 100k", f"{self.far_cpu_per_100k:.2f} s (" + ", ".join(
                f"{label} {seconds * 100_000 / self.events:.2f}" for label, seconds in self.far_cpu.items()) + ")"),
        ]:
            print(f"{label:<24} {value}", flush=True)


def start(destinations: Sequence[Destination], stand_in: bool, sinks: int = 1) -> list[Endpoint]:
    """One far end per destination, each in its own process."""
    return [(d.stand_in if stand_in else d.fast)(sinks) for d in destinations]


def run(legs: Sequence[Leg], events: int, chunk: int, batch: int | None = None, *, cap: bool = False) -> Run:
    """Ship ``events`` sample events into every sink of every leg (a fresh shipper process); ask each far end what it stored.

    Raises ConfigError when a sink refuses ``batch`` (over its hard limit, unless ``cap``). Exits with status 1
    if the sinks do not catch up within FLUSH_TIMEOUT_SECONDS or the shipper process fails.
    """
    for leg in legs:
        leg.endpoint.reset()
    sinks = {name: config for leg in legs for name, config in leg.sink_configs(batch, cap=cap).items()}
    far_before = {leg.destination.label: ProcessTree(leg.endpoint.pid).cpu_seconds() for leg in legs}
    parent, child = multiprocessing.Pipe()
    shipper = multiprocessing.get_context("spawn").Process(target=_ship, args=(child, sinks, events, chunk))
    shipper.start()
    child.close()
    try:
        outcome = parent.recv()
    except EOFError:
        outcome = ("failed", f"the shipper process died (exit code {shipper.join(10) or shipper.exitcode})")
    shipper.join(60)
    if outcome[0] == "config":
        raise ConfigError(outcome[1])
    if outcome[0] != "ok":
        sys.exit(outcome[1])
    _, ingested, end_to_end, statuses = outcome
    far_cpu = {leg.destination.label: ProcessTree(leg.endpoint.pid).cpu_seconds() - far_before[leg.destination.label]
               for leg in legs}  # fmt: skip
    return Run(events, ingested, end_to_end, statuses, [(leg, leg.endpoint.count()) for leg in legs], far_cpu)


def _ship(conn: Connection, sinks: dict[str, dict[str, Any]], events: int, chunk: int) -> None:
    """The shipper's process: ingest and flush, measured over this process and what it spawns; the figures back."""
    from shippers.shipper import Shipper

    docs = documents(events, seed=SEED)
    taken: list[Figures] = []
    tree = ProcessTree.shipper_here()
    tree.reset_peaks()  # the input documents stay in memory; the peak of building them does not count
    try:
        with tempfile.TemporaryDirectory() as tmp, tree.sampling():
            shipper = Shipper.from_config({"buffer": {"path": str(Path(tmp) / "buf")}, "sinks": sinks}, deliver=True)
            try:
                with measure("end to end", events, taken.append, tree):
                    with measure("ingest only", events, taken.append, tree):
                        ingest(shipper, docs, chunk)
                    if not shipper.flush(timeout=FLUSH_TIMEOUT_SECONDS):
                        conn.send(("failed", f"the sinks did not catch up within {FLUSH_TIMEOUT_SECONDS:.0f} s"))
                        return
                statuses = {name: shipper.status()["sinks"][name] for name in sinks}
            finally:
                shipper.close()
    except ConfigError as exc:
        conn.send(("config", str(exc)))
        return
    ingested, end_to_end = taken
    conn.send(("ok", ingested, end_to_end, statuses))


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the x value and that run's figures."""

    x: int
    per_second: float  # events/s into every sink
    sinks: int


def _point(legs: list[Leg], args: argparse.Namespace, batch: int | None, *, cap: bool) -> Run | None:
    """One sweep run, printed on one line; None when a sink refuses the batch size."""
    try:
        result = run(legs, args.events, args.chunk, batch, cap=cap)
    except ConfigError as exc:
        print(f"batch {batch}: refused by the config ({exc}); skipped")
        return None
    figures = result.end_to_end
    print(f"batch {batch or 'default':<8} sinks {sum(leg.sinks for leg in legs)}  {figures.per_second:>9,.0f} events/s  "
          f"{figures.cpu_per_100k:.2f} CPU s/100k  peak RSS {figures.peak_rss_mib:.0f} MiB  "
          f"exactly once: {'yes' if result.exactly_once else 'NO'}", flush=True)  # fmt: skip
    return result


def sweep_batches(legs_for: Callable[[int], list[Leg]], args: argparse.Namespace, *, cap: bool) -> list[Point]:
    """events/s for each of BATCH_SIZES; ``cap``: clamp to each sink's own limit, else skip sizes over it."""
    points = []
    for size in BATCH_SIZES:
        legs = legs_for(1)
        over = [leg.destination for leg in legs if size > leg.destination.max_batch]
        if over and not cap:
            print(f"batch {size}: over {over[0].label}'s limit of {over[0].max_batch} events per request; skipped")
            continue
        if (result := _point(legs, args, size, cap=cap)) is not None:
            points.append(Point(size, result.end_to_end.per_second, len(legs)))
    return points


def sweep_sinks(legs_for: Callable[[int], list[Leg]], args: argparse.Namespace) -> list[Point]:
    """events/s into every sink for 1..MAX_SINKS sinks (``legs_for(n)``: the legs of a run with n sinks)."""
    points = []
    for count in range(1, MAX_SINKS + 1):
        if (result := _point(legs_for(count), args, args.batch, cap=False)) is not None:
            points.append(Point(count, result.end_to_end.per_second, count))
    return points


def main(destination: Destination, args: argparse.Namespace, *rows: tuple[str, str]) -> int:
    """A single-destination benchmark: one run (``--sinks`` sinks), or the sweeps and a plot (``--plot``)."""
    sinks = MAX_SINKS if args.plot else args.sinks
    (endpoint,) = start([destination], args.stand_in, sinks)
    try:
        if args.plot:
            from _plot import plot

            by_batch = sweep_batches(lambda n: [Leg(destination, endpoint, n)], args, cap=False)
            by_sinks = sweep_sinks(lambda n: [Leg(destination, endpoint, n)], args)
            far = "stand-in" if args.stand_in else "counting endpoint"
            plot(args.plot, f"{destination.label}: {args.events:,} events into a {far}", by_batch, by_sinks)
            print(f"plot written to {args.plot}")
            return 0
        result = run([Leg(destination, endpoint, args.sinks)], args.events, args.chunk, args.batch)
        far = "stand-in (shippers.testing)" if args.stand_in else "counting endpoint (bench/endpoints)"
        result.report(*rows, ("events", f"{args.events} into {args.sinks} sink(s)"), ("far end", far))
        return 0 if result.exactly_once else 1
    finally:
        endpoint.stop()
