"""The child's metrics: what its sinks touch of :class:`~shippers.metrics.Metrics`, collected to be forwarded.

A delivery process has no ``/metrics`` of its own: its sink workers count into a
:class:`ForwardedMetrics` (the same attribute names and ``labels(...).inc / .set`` calls as the
Prometheus families they stand for), and the child's reporter sends what changed since the last
report (:meth:`take`); the parent applies it to its registry (:func:`apply`), so ``/metrics`` and
``authlog status`` show the same series as when the sinks ran on the parent's threads.
"""

from __future__ import annotations

import threading
from typing import Any

# The families a sink worker touches: counters are summed, gauges keep their last value.
COUNTERS = ("delivered", "duplicates", "dead_lettered", "retries", "dropped", "store_errors")
GAUGES = ("up",)

Change = tuple[str, tuple[str, ...], float]  # (family, label values, increment or value)


class _Series:
    def __init__(self, owner: ForwardedMetrics, family: str, labels: tuple[str, ...]) -> None:
        self.owner, self.family, self.labels = owner, family, labels

    def inc(self, amount: float = 1) -> None:
        self.owner.note(self.family, self.labels, amount, add=True)

    def set(self, value: float) -> None:
        self.owner.note(self.family, self.labels, value, add=False)


class _Family:
    def __init__(self, owner: ForwardedMetrics, name: str) -> None:
        self.owner, self.name = owner, name

    def labels(self, *values: str) -> _Series:
        series = _Series(self.owner, self.name, tuple(str(v) for v in values))
        if self.name in COUNTERS:
            self.owner.note(self.name, series.labels, 0, add=True)  # a labels() call alone exports 0, as Prometheus does
        return series


class ForwardedMetrics:
    """Stands in for Metrics in a delivery process; thread-safe (pool threads count at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, tuple[str, ...]], float] = {}
        for name in (*COUNTERS, *GAUGES):
            setattr(self, name, _Family(self, name))

    def note(self, family: str, labels: tuple[str, ...], value: float, *, add: bool) -> None:
        key = (family, labels)
        with self._lock:
            self._pending[key] = self._pending.get(key, 0) + value if add else value

    def take(self) -> list[Change]:
        """What changed since the last call (and forget it)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return [(family, labels, value) for (family, labels), value in pending.items()]


def apply(metrics: Any, changes: list[Change]) -> None:
    """Apply a child's changes to the parent's Metrics (only the families above)."""
    for family, labels, value in changes:
        if family in COUNTERS:
            series = getattr(metrics, family).labels(*labels)
            if value:
                series.inc(value)
        elif family in GAUGES:
            getattr(metrics, family).labels(*labels).set(value)
