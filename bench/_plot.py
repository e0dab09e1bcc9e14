"""Draw a benchmark's sweeps as one PNG: events/s against batch size, and against the number of sinks.

matplotlib is the ``bench`` extra (``pip install -e '.[bench]'``, or ``pip install matplotlib``);
it is imported only when a plot is asked for, with the file-only Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class _Point(Protocol):
    x: int
    per_second: float
    sinks: int


def plot(path: str, title: str, by_batch: Sequence[_Point], by_sinks: Sequence[_Point], note: str = "") -> None:
    """Two panels side by side; each point labelled with its events/s."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install -e '.[bench]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    batch_sinks = by_batch[0].sinks if by_batch else 1
    panels = (
        (left, by_batch, "batch size (batch.max_events)",
         f"events/s into every sink ({batch_sinks} sink{'s' if batch_sinks > 1 else ''})", True),
        (right, by_sinks, "sinks (each event into each)", "events/s into every sink", False),
    )
    for axes, points, xlabel, ylabel, log_x in panels:
        xs, ys = [p.x for p in points], [p.per_second for p in points]
        axes.plot(xs, ys, marker="o", label="events/s into every sink")
        if not log_x and points:  # deliveries: each event counted once per sink
            axes.plot(xs, [p.per_second * p.sinks for p in points], marker="s", linestyle="--",
                      label="deliveries/s (events x sinks)")  # fmt: skip
            axes.legend(loc="best")
        for x, y in zip(xs, ys, strict=True):
            axes.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
        if log_x:
            axes.set_xscale("log")
        axes.set_xticks(xs, [str(x) for x in xs])
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    figure.suptitle(title + (f"\n{note}" if note else ""))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
