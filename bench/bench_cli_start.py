"""What a probe pays: CPU and wall time of `authlog --version`, `authlog health` and `authlog status --help`.

    python bench/bench_cli_start.py [--runs 20]

Each command runs ``--runs`` times as a child process of this interpreter on this tree (PYTHONPATH);
the CPU is the child's user + system time (``resource.getrusage(RUSAGE_CHILDREN)``), the figures are
medians. `health` probes a closed loopback port (the answer costs nothing; the imports are what is
measured). The interpreter's own start-up (`python -c pass`) is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

import _repo

CLI = "from shippers.cli import main; main()"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the probe socket is


def run(argv: list[str], runs: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of ``runs`` runs of ``argv``."""
    env = {**os.environ, "PYTHONPATH": str(_repo.REPO)}
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "authlog --version": [sys.executable, "-c", CLI, "--version"],
        "authlog health": [sys.executable, "-c", CLI, "health", "--url", f"http://127.0.0.1:{closed_port()}"],
        "authlog status --help": [sys.executable, "-c", CLI, "status", "--help"],
    }
    for label, argv in commands.items():
        cpu, wall = run(argv, args.runs)
        print(f"{label:24} {cpu:6.3f} CPU s  {wall:6.3f} s wall  (median of {args.runs})")


if __name__ == "__main__":
    main()
