"""Benchmark: what one hand-off between Python threads costs on this machine, the floor under ``emit()`` from many threads.

    python bench/bench_handoff.py [--threads 8] [--hand-offs 20000]     (taskset -c 0 ... to compare one core)

``emit()`` from several threads returns only once its event is committed, so each caller that
did not commit its own group blocks once and is woken once (``shippers/group_commit.py``). This
times the bare mechanism with no work around it: ``--threads`` threads in a ring, each waiting on
its own lock and releasing the next one's, so exactly one thread runs at a time, as under the
interpreter lock. Prints wall and CPU µs per hand-off and context switches per hand-off. Compare
the figure with ``bench_emit.py``'s amortised µs per event and its hand-offs per event: what is
left once the hand-offs are taken off is validation and the commit.
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time


def ring(threads: int, hand_offs: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, context switches) of ``hand_offs`` hand-offs around a ring of ``threads``."""
    locks = [threading.Lock() for _ in range(threads)]
    for lock in locks:
        lock.acquire()
    rounds = hand_offs // threads

    def turn(index: int) -> None:
        mine, following = locks[index], locks[(index + 1) % threads]
        for _ in range(rounds):
            mine.acquire()
            following.release()

    workers = [threading.Thread(target=turn, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    before, cpu, started = _switches(), time.process_time(), time.perf_counter()
    locks[0].release()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, time.process_time() - cpu, _switches() - before


def _switches() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--threads", type=int, default=8)
    cli.add_argument("--hand-offs", type=int, default=20_000)
    args = cli.parse_args()
    if args.threads < 2:
        cli.error("--threads takes 2 or more (a hand-off needs another thread)")
    count = args.hand_offs // args.threads * args.threads
    wall, cpu, switches = ring(args.threads, count)
    print(f"{args.threads} threads in a ring, {count} hand-offs")
    print(f"  per hand-off   {wall / count * 1e6:7.1f} µs wall, {cpu / count * 1e6:7.1f} µs CPU ({count / wall:,.0f} hand-offs/s)")
    print(f"  context switches per hand-off  {switches / count:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
