"""Side by side: rsyslog, syslog-ng and authlog-shipper shipping the same events into counting ``_bulk`` endpoints.

    python bench/peers/run.py [--events 200000] [--runs 3] [--peers rsyslog,syslog-ng,authlog] [--fanout N]

Not run by CI (it installs Debian packages and takes minutes). What it does:

1. gets the peers (``_install``): rsyslog 8 with omelasticsearch (``apt-get install -y
   rsyslog-elasticsearch``), syslog-ng 3 with http() (``apt-get download`` + ``dpkg -x`` into
   ``bench/peers/.peers``, since it conflicts with rsyslog as a package); a peer that cannot be
   had is reported with the reason and the table goes on without it;
2. generates ``--events`` catalog events once (``shippers.samples``, one JSON line each, ~360
   bytes) into a file, and the same lines as NDJSON bodies of 1000 for authlog's producer;
3. starts one fast counting ``_bulk`` endpoint (``bench/endpoints``, its own process), or with
   ``--fanout N`` N of them (one process each) and every peer sends every event to all N;
4. runs the peers interleaved, ``--runs`` rounds (the order rotates each round), each on a fresh
   work folder (``_peer``): rsyslog (imfile -> mmjsonparse -> omelasticsearch bulk create,
   bulkid/dynbulkid, 2 workers), syslog-ng (wildcard-file -> json-parser -> http() bulk create,
   2 workers, batch-lines 1000) and ``authlog run`` with one ``[sinks.es]`` of only ``type``,
   ``hosts`` and ``index`` (the defaults), fed by a producer posting the bodies over 2 keep-alive
   connections to ``/v1/events``; the clock runs from the load's start until the endpoint holds
   every ``_id``. A fan-out gives each peer N such destinations (``_configs``: N omelasticsearch
   actions, N http() destinations in one log path, ``[sinks.es1]`` .. ``[sinks.esN]``), and the
   clock runs until every endpoint holds every ``_id``;
5. prints the table (``_table``): events/s (median and range), CPU seconds per 100k events and
   peak RSS summed over the peer's processes (the endpoints and the producer excluded), whether
   every event was stored exactly once by ``_id`` (in each endpoint), the ratios to rsyslog; under
   it the endpoints' own CPU per 100k events and the cores other processes on the shared machine
   kept busy (``_machine``): what of the 2 cores the peer did not get; and the most events/s the
   peer could reach on idle cores at its CPU per event (with its endpoints'), a bound to judge a
   target by.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _measure, _sidecar, endpoints

import _install  # after the sys.path line, on purpose
import _repo
import msgspec
from _peer import Result, Workload, run_authlog, run_rsyslog, run_syslog_ng
from _sidecar import ndjson_bodies
from _table import table
from endpoints.elasticsearch import start_elasticsearch
from endpoints.process import Endpoint

from shippers.samples import sample_events

PEERS = ("rsyslog", "syslog-ng", "authlog")
HERE = Path(__file__).resolve().parent
# Why: events per producer request, as in the setup (and every peer's batch).
BODY_EVENTS = 1000
SEED = 2026
Runner = Callable[[Path, Sequence[Endpoint], Workload, float], Result]


def prepare(peers: list[str], folder: Path) -> tuple[dict[str, Runner], dict[str, str], dict[str, str]]:
    """(a runner per peer that is available, why each other one is not, each one's version)."""
    runners: dict[str, Runner] = {}
    skipped: dict[str, str] = {}
    versions: dict[str, str] = {}
    for peer in peers:
        try:
            if peer == "rsyslog":
                binary = _install.rsyslog()
                first = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stdout.splitlines()[0]
                versions[peer] = first.split(" compiled")[0].strip()
                runners[peer] = lambda f, e, w, t, b=binary: run_rsyslog(b, f, e, w, t)
            elif peer == "syslog-ng":
                unpacked = _install.syslog_ng(folder)
                versions[peer] = unpacked.version()
                runners[peer] = lambda f, e, w, t, s=unpacked: run_syslog_ng(s, f, e, w, t)
            else:
                commit = subprocess.run(["git", "-C", str(_repo.REPO), "log", "-1", "--format=%h"],
                                        capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
                versions[peer] = f"authlog-shipper at {commit or 'this checkout'}"
                runners[peer] = run_authlog
        except _install.Unavailable as exc:
            skipped[peer] = str(exc)
        print(f"{peer:<10} {versions.get(peer) or 'not available: ' + skipped.get(peer, '?')}", flush=True)
    return runners, skipped, versions


def workload(folder: Path, events: int, connections: int) -> Workload:
    """The events file (generated once per size) and the same lines as request bodies."""
    path = folder / "work" / f"events-{events}-{SEED}.ndjson"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        encode = msgspec.json.Encoder().encode
        staged = path.with_suffix(".tmp")
        staged.write_bytes(b"".join(encode(event) + b"\n" for event in sample_events(events, seed=SEED)))
        os.replace(staged, path)
    lines = path.read_bytes().splitlines()
    return Workload(path, len(lines), ndjson_bodies(lines, BODY_EVENTS), connections)


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--events", type=int, default=200_000)
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of {', '.join(PEERS)}")
    cli.add_argument("--connections", type=int, default=2, help="authlog producer's keep-alive connections")
    cli.add_argument("--timeout", type=float, default=600.0, help="seconds a run may take to store every event")
    cli.add_argument("--fanout", type=int, default=1, metavar="N",
                     help="send every event to N counting _bulk endpoints (one process each); timed until all hold every _id")
    cli.add_argument("--keep", action="store_true", help="keep each run's folder (configs, logs, store) in .peers/runs")
    args = cli.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    if unknown := sorted(set(peers) - set(PEERS)):
        cli.error(f"unknown peers: {', '.join(unknown)}")
    if args.fanout < 1:
        cli.error("--fanout takes 1 or more endpoints")

    folder = HERE / ".peers"
    folder.mkdir(exist_ok=True)
    runners, skipped, versions = prepare(peers, folder)
    work = workload(folder, args.events, args.connections)
    size = work.file.stat().st_size / work.events
    into = "one counting _bulk endpoint" if args.fanout == 1 else f"each of {args.fanout} counting _bulk endpoints"
    print(f"{work.events} catalog events of {size:.0f} bytes on average into {into}; {os.cpu_count()} CPUs; "
          f"{args.runs} interleaved rounds", flush=True)  # fmt: skip
    results: list[Result] = []
    available = [p for p in peers if p in runners]
    with contextlib.ExitStack() as stack:
        endpoints = [stack.enter_context(start_elasticsearch()) for _ in range(args.fanout)]
        for round_no in range(args.runs):
            order = available[round_no % len(available):] + available[: round_no % len(available)] if available else []
            for peer in order:
                for endpoint in endpoints:
                    endpoint.reset()
                run_folder = folder / "runs" / f"{peer}-{round_no + 1}"
                shutil.rmtree(run_folder, ignore_errors=True)
                run_folder.mkdir(parents=True)
                try:
                    result = runners[peer](run_folder, endpoints, work, args.timeout)
                except (RuntimeError, OSError, SystemExit) as exc:
                    counted = tuple(endpoint.count() for endpoint in endpoints)
                    result = Result(peer, work.events, 0.0, 0.0, 0, 0, counted, f"{type(exc).__name__}: {exc}")
                results.append(result)
                print(f"round {round_no + 1}  {peer:<10} {result.per_second:>9,.0f} events/s  {result.seconds:6.2f} s  "
                      f"{result.cpu_per_100k:5.2f} CPU s/100k  peak RSS {result.peak_rss / 1024 / 1024:5.0f} MiB "
                      f"({result.processes} process(es), {result.cores:.2f} cores)  endpoints' CPU {result.far_cpu_per_100k:.2f} s/100k  "
                      f"others on the machine {result.others_cores:.2f} cores  "
                      f"{result.stored()}"
                      + (f"  ERROR: {result.error}" if result.error else ""), flush=True)  # fmt: skip
                if not args.keep:
                    shutil.rmtree(run_folder, ignore_errors=True)
    print()
    print(table(results, peers, skipped, args.fanout, os.cpu_count() or 1))
    print()
    for peer, version in versions.items():
        print(f"- {peer}: {version}")
    return 0 if results and all(r.exactly_once for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
