"""The fan-out through ``authlog run`` (``bench_fanout.py --sidecar``): the deployed shape, ingest in its own process.

The same sinks as the in-process run (``_destination.Leg.sink_configs``), written as TOML sink
tables for a ``Sidecar``; the producer (this process, not measured) posts the sample events as
NDJSON bodies of ``--chunk`` events over PRODUCER_CONNECTIONS keep-alive connections, as the
side-by-side with rsyslog does (bench/peers). The run ends when every far end holds every event
(distinct ids); CPU and summed peak RSS are the sidecar's processes' (``authlog run`` and its
ingest process), each far end's CPU is reported beside them.

One setting differs from the defaults: nothing flushes a sidecar, so each sink's ``batch.timeout`` is
at most LAST_BATCH_SECONDS (S3's default 60 s would hold the last, partial object that long and the
figure would measure the timeout, not the shipper).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from _destination import FLUSH_TIMEOUT_SECONDS, SEED, Leg
from _measure import Figures, ProcessTree, documents
from _sidecar import Sidecar, ndjson_bodies, post_all

# Why: the producer of the side-by-side (bench/peers): two keep-alive connections.
PRODUCER_CONNECTIONS = 2
# Why: the other sinks' own default batch timeout (1 s); S3's 60 s would be most of a 100k-event run.
LAST_BATCH_SECONDS = 1.0
# Why: how often the far ends are asked whether they hold every event; a count is one pipe round trip.
POLL_SECONDS = 0.05


def _name(pid: int) -> str:
    """``authlog run``, the ingest child or a delivery child, from the process's command line."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return str(pid)
    if b"delivery_process.child" in command:
        return f"delivery process {pid}"
    return "ingest process" if b"ingest_child" in command else "authlog run" if b"shippers.cli" in command else str(pid)


def sink_tables(legs: Sequence[Leg], batch: int | None) -> str:
    """The legs' sinks as TOML tables (flat values: strings and lists of strings are JSON-compatible TOML)."""
    tables = []
    for leg in legs:
        for name, config in leg.sink_configs(batch, cap=True).items():
            config = {**config, "batch": {**config.get("batch", {}), "timeout": LAST_BATCH_SECONDS}}
            lines = [f"[sinks.{name}]"]
            nested = {key: value for key, value in config.items() if isinstance(value, dict)}
            lines += [f"{key} = {msgspec.json.encode(value).decode()}" for key, value in config.items() if key not in nested]
            for key, table in nested.items():
                lines.append(f"[sinks.{name}.{key}]")
                lines += [f"{k} = {msgspec.json.encode(v).decode()}" for k, v in table.items()]
            tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def _delivery_table(processes: str | None) -> str:
    if processes is None:
        return ""
    value = processes if processes.isdigit() else msgspec.json.encode(processes).decode()
    return f"\n[delivery]\nprocesses = {value}\n"


def run(legs: Sequence[Leg], events: int, chunk: int, batch: int | None, processes: str | None = None) -> dict[str, Any]:
    """Post ``events`` sample events to a fresh ``authlog run`` with the legs' sinks; the figures and the counts.

    ``processes`` sets ``[delivery] processes`` ("auto", "0", "2"...); None leaves it to authlog run's default.
    """
    for leg in legs:
        leg.endpoint.reset()
    bodies = ndjson_bodies(documents(events, seed=SEED), chunk)
    far = {leg.destination.label: ProcessTree(leg.endpoint.pid) for leg in legs}
    with tempfile.TemporaryDirectory(prefix="authlog-fanout-") as tmp, Sidecar(Path(tmp), sink_tables(legs, batch) + _delivery_table(processes)) as sidecar:
        tree = sidecar.tree
        posted: list[tuple[int, int, list[str]]] = []
        producer = threading.Thread(target=lambda: posted.append(post_all(sidecar.port, bodies, PRODUCER_CONNECTIONS)))
        with tree.sampling():
            far_before = {label: t.cpu_seconds() for label, t in far.items()}
            cpu, started = tree.cpu_seconds(), time.perf_counter()
            # each process alone (its children excluded at both ends, so a child's start-up is not taken off its parent)
            each_before = {pid: ProcessTree(pid, [q for q in tree.pids() if q != pid]).cpu_seconds() for pid in tree.pids()}
            producer.start()
            counted = [leg.endpoint.wait_for(events, FLUSH_TIMEOUT_SECONDS, poll=POLL_SECONDS) for leg in legs]
            wall, cpu = time.perf_counter() - started, tree.cpu_seconds() - cpu
            far_cpu = {label: t.cpu_seconds() - far_before[label] for label, t in far.items()}
            # per process: which of the sidecar's two interpreters the work lands in (delivery or ingest)
            each = {_name(pid): ProcessTree(pid, [q for q in tree.pids() if q != pid]).cpu_seconds() - before
                    for pid, before in each_before.items()}  # fmt: skip
            figures = Figures("end to end", events, wall, cpu, tree.peak_rss_bytes(), tree.processes)
            rss = {_name(pid): peak for pid, peak in tree.peak_rss_by_pid().items()}
        producer.join()
    accepted = posted[0][0] if posted else 0
    return {"figures": figures, "far_cpu": far_cpu, "each": each, "rss": rss, "counted": list(zip(legs, counted, strict=True)), "accepted": accepted}


def report(outcome: dict[str, Any], events: int) -> bool:
    """Print the run like the in-process one; whether every event was stored once per sink."""
    figures: Figures = outcome["figures"]
    once = outcome["accepted"] == events and all(c.exactly_once(events) for _, c in outcome["counted"])
    rows = [("events", f"{events} into each of {len(outcome['counted'])} sinks, through authlog run "
                       f"(batch.timeout {LAST_BATCH_SECONDS:g} s)"),
            *[(f"at {leg.destination.label}", counted.line()) for leg, counted in outcome["counted"]],
            ("exactly once per sink", "yes" if once else f"NO ({outcome['accepted']} accepted)"),
            ("end to end", f"{figures.per_second:,.0f} events/s into every sink ({figures.wall:.2f} s)"),
            ("CPU per 100k events", f"{figures.cpu_per_100k:.2f} s (user+sys, {figures.processes} sidecar process(es))"),
            ("peak RSS", f"{figures.peak_rss_mib:.0f} MiB (VmHWM summed over the sidecar's processes)"),
            ("of which, per process", ", ".join(f"{name} {seconds * 100_000 / events:.2f} s "
                                                 f"({outcome['rss'].get(name, 0) / 2**20:.0f} MiB)"
                                                 for name, seconds in outcome["each"].items())),
            ("far ends' CPU per 100k", f"{sum(outcome['far_cpu'].values()) * 100_000 / events:.2f} s")]  # fmt: skip
    for label, value in rows:
        print(f"{label:<24} {value}", flush=True)
    return once
