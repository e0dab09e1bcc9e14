"""Shared measuring for the benchmarks (events/s, CPU seconds per 100k events, peak RSS) and their input."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from shippers.samples import sample_events

if TYPE_CHECKING:
    from shippers.shipper import Shipper


@dataclass
class Figures:
    label: str
    events: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.events / self.wall if self.wall else float("inf")

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu * 100_000 / self.events if self.events else 0.0

    def line(self) -> str:
        return (
            f"{self.label:<44} {self.events:>8} events  {self.per_second:>10,.0f} events/s  "
            f"{self.cpu_per_100k:>6.2f} CPU s/100k  peak RSS {peak_rss_mib():.0f} MiB"
        )


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def measure(label: str, events: int, report: Callable[[Figures], None] = lambda f: print(f.line(), flush=True)) -> Iterator[None]:
    """Time a block by wall clock and by this process's CPU time (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    report(Figures(label, events, time.perf_counter() - wall, time.process_time() - cpu))


def documents(count: int, seed: int) -> list[bytes]:
    """``count`` wire events from shippers.samples (every type and reason, distinct ids), JSON-encoded."""
    return [msgspec.json.encode(e) for e in sample_events(count, seed=seed)]


def ingest(shipper: Shipper, docs: list[bytes], chunk: int) -> None:
    """``ingest_raw`` the documents ``chunk`` at a time; every one must be accepted."""
    for start in range(0, len(docs), chunk):
        result = shipper.ingest_raw(docs[start : start + chunk])
        assert not result.rejected, result.rejected[:3]
