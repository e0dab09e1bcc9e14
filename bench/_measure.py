"""Shared measuring for the benchmarks (events/s, CPU seconds per 100k events, peak RSS) and their input.

CPU and memory are the *shipper's*, summed over all its processes (Linux ``/proc``)::

    ProcessTree(root, exclude)      the root process and every live descendant, less the
                                    excluded pids and everything under them
      .cpu_seconds()                utime + stime of each member (/proc/<pid>/stat), plus the
                                    root's cutime + cstime (children it has already reaped)
      .peak_rss_bytes()             VmHWM (/proc/<pid>/status) summed over the members, each
                                    the highest seen by any sample() so far (one that exited
                                    keeps its last sample); reset_peaks() starts them afresh

``ProcessTree.shipper_here()`` is this process with its children as they are *now* excluded:
make it after starting the endpoints (and their helpers) and before the shipper, so what the
shipper spawns later is counted and the far end is not. A benchmark whose shipper is a child
(``authlog run``) uses ``ProcessTree(child.pid)``; the producer is then the bench process itself.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import _repo  # noqa: F401 - this checkout first on sys.path, before shippers is imported
import msgspec

from shippers.samples import sample_events

if TYPE_CHECKING:
    from shippers.shipper import Shipper

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Why: a member that exits between two samples loses at most this much of its peak; reading a
# few /proc files twice a second costs the (measured) bench process well under 0.1% of a core.
SAMPLE_SECONDS = 0.5
MIB = 1024 * 1024


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _peak_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children_by_parent() -> dict[int, list[int]]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry))  # field 4: ppid
    return parents


class ProcessTree:
    """A process and its descendants, less excluded subtrees: their CPU seconds and summed peak RSS."""

    def __init__(self, root: int, exclude: Iterable[int] = ()) -> None:
        self.root = root
        self.exclude = frozenset(exclude)
        self._peaks: dict[int, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def shipper_here(cls) -> ProcessTree:
        """This process and what it spawns from now on (its present children, the far ends, excluded)."""
        return cls(os.getpid(), _children_by_parent().get(os.getpid(), []))

    def pids(self) -> list[int]:
        parents = _children_by_parent()
        members, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            if pid in self.exclude:
                continue
            members.append(pid)
            todo += parents.get(pid, [])
        return members

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            fields = _stat_fields(pid)
            if fields is not None:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
                if pid == self.root:
                    ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
        return ticks / CLOCK_TICKS

    def reset_peaks(self) -> None:
        """Start the peaks afresh: forget the samples, and reset each member's VmHWM to its current RSS.

        (Writing 5 to /proc/<pid>/clear_refs, Linux 4.0+; a process whose peak cannot be reset,
        e.g. one owned by another user, keeps its lifetime peak.) For runs in one process, such
        as a sweep, where each run's peak must not be an earlier run's.
        """
        with self._lock:
            self._peaks.clear()
        for pid in self.pids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass

    def sample(self) -> None:
        """Remember each member's VmHWM (a member that exits later keeps this figure)."""
        with self._lock:
            for pid in self.pids():
                self._peaks[pid] = max(self._peaks.get(pid, 0), _peak_rss(pid))

    def peak_rss_bytes(self) -> int:
        self.sample()
        with self._lock:
            return sum(self._peaks.values())

    def peak_rss_by_pid(self) -> dict[int, int]:
        """Each member's VmHWM, as sampled (the sum is :meth:`peak_rss_bytes`)."""
        self.sample()
        with self._lock:
            return dict(self._peaks)

    @property
    def processes(self) -> int:
        """How many processes the peak RSS adds up."""
        with self._lock:
            return len(self._peaks)

    @contextmanager
    def sampling(self, every: float = SAMPLE_SECONDS) -> Iterator[ProcessTree]:
        """Sample in a background thread while the block runs (for members that may exit before the end)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                self.sample()

        thread = threading.Thread(target=loop, name="ProcessTree.sampling", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()


@dataclass
class Figures:
    label: str
    events: int
    wall: float
    cpu: float
    peak_rss: int = 0  # bytes, summed over `processes`
    processes: int = 1

    @property
    def per_second(self) -> float:
        return self.events / self.wall if self.wall else float("inf")

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu * 100_000 / self.events if self.events else 0.0

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss / MIB

    def line(self) -> str:
        return (
            f"{self.label:<44} {self.events:>8} events  {self.per_second:>10,.0f} events/s  "
            f"{self.cpu_per_100k:>6.2f} CPU s/100k  peak RSS {self.peak_rss_mib:.0f} MiB"
        )


@contextmanager
def measure(
    label: str,
    events: int,
    report: Callable[[Figures], None] = lambda f: print(f.line(), flush=True),
    tree: ProcessTree | None = None,
) -> Iterator[None]:
    """Time a block by wall clock and by the CPU time of ``tree`` (default: this process, all threads)."""
    tree = tree if tree is not None else ProcessTree.shipper_here()
    wall, cpu = time.perf_counter(), tree.cpu_seconds()
    yield
    elapsed, used = time.perf_counter() - wall, tree.cpu_seconds() - cpu
    report(Figures(label, events, elapsed, used, tree.peak_rss_bytes(), tree.processes))


def documents(count: int, seed: int) -> list[bytes]:
    """``count`` wire events from shippers.samples (every type and reason, distinct ids), JSON-encoded."""
    return [msgspec.json.encode(e) for e in sample_events(count, seed=seed)]


def ingest(shipper: Shipper, docs: list[bytes], chunk: int) -> None:
    """``ingest_raw`` the documents ``chunk`` at a time; every one must be accepted."""
    for start in range(0, len(docs), chunk):
        result = shipper.ingest_raw(docs[start : start + chunk])
        assert not result.rejected, result.rejected[:3]


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.99 for p99) of values sorted ascending."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_line(label: str, seconds: Sequence[float]) -> str:
    """``label  p50 .. p90 .. p99 .. max ..`` in milliseconds."""
    ordered = sorted(seconds)
    figures = "  ".join(f"{name} {percentile(ordered, q) * 1000:7.2f}" for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)))
    return f"{label:<40} {figures}  max {ordered[-1] * 1000 if ordered else float('nan'):7.2f} ms"


def stored_in_file(path: Path) -> tuple[int, int]:
    """(lines, distinct ids) of a file sink's NDJSON output: every event once means both equal the events sent."""
    ids = [msgspec.json.decode(line)["id"] for line in path.read_bytes().splitlines() if line]
    return len(ids), len(set(ids))
