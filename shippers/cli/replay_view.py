"""What ``authlog replay`` shows: a rich progress bar (objects, events, bytes, rate, ETA) and the summary lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from shippers.quoting import printable
from shippers.replay.run import Summary
from shippers.replay.targets import duplicate_note

# Why: a terminal full of bad lines hides the summary; the first few show the pattern.
MAX_SHOWN_PROBLEMS = 20
BAR_WIDTH = 16


class ReplayProgress:
    """The bar of one replay (a ``shippers.replay.run.ProgressSink``); bytes drive the bar and its ETA."""

    def __init__(self, console: Console, label: str) -> None:
        # Why: 80 columns hold the bar, bytes, objects, events, rate and ETA of a month's archive on one line.
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=BAR_WIDTH), DownloadColumn(),
            TextColumn("{task.fields[objects]} obj"), TextColumn("{task.fields[events]} ev"),
            TextColumn("{task.fields[rate]}/s"), TimeRemainingColumn(compact=True),
            console=console, transient=False,
        )
        self._label = label
        self._task: Any = None
        self._objects = (0, 0)
        self._events = 0

    def __enter__(self) -> ReplayProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def started(self, objects: int, size: int) -> None:
        self._objects = (0, objects)
        self._task = self._progress.add_task(self._label, total=size or None, objects=f"0/{objects}", events=0, rate=0)

    def advanced(self, *, objects: int = 0, size: int = 0, events: int = 0) -> None:
        done, total = self._objects
        self._objects = (done + objects, total)
        self._events += events
        task = self._progress.tasks[0] if self._progress.tasks else None
        elapsed = task.elapsed if task is not None and task.elapsed else 0.0
        rate = f"{self._events / elapsed:,.0f}" if elapsed > 0 else "0"
        self._progress.update(self._task, advance=size, objects=f"{done + objects}/{total}", events=f"{self._events:,}", rate=rate)


def summary_lines(summary: Summary, *, sink: str, sink_type: str, dry_run: bool, seconds: float) -> Iterator[str]:
    """The summary, one line each: what was queued, skipped and why, what the destination does with duplicates."""
    verb = "would queue" if dry_run else "queued"
    rate = f" ({summary.queued / seconds:,.0f} events/s)" if seconds > 0 and summary.queued else ""
    yield (f"{verb} {summary.queued:,} event(s) for sink {sink} from {summary.lines:,} line(s) in "
           f"{summary.objects - summary.objects_done_before:,} object(s){rate}")
    if summary.objects_done_before:
        yield f"{summary.objects_done_before:,} object(s) were finished by an earlier run with these arguments (not queued again)"
    for reason, n in sorted(summary.skipped.items()):
        yield f"skipped {n:,}: {reason}"
    for note, n in sorted(summary.stale.items()):
        yield f"{verb} {n:,} {note}"
    if summary.bad_lines or summary.objects_unreadable:
        yield f"skipped {summary.bad_lines:,} bad line(s) and {summary.objects_unreadable:,} unreadable object(s):"
        for problem in summary.problems[:MAX_SHOWN_PROBLEMS]:
            where = problem.key if problem.line is None else f"{problem.key} line {problem.line}"
            yield printable(f"  {where}: {problem.message}")  # keys and lines are the archive's: no escape reaches the terminal
        if len(summary.problems) > MAX_SHOWN_PROBLEMS:
            yield f"  ... and {len(summary.problems) - MAX_SHOWN_PROBLEMS:,} more"
    for note, n in sorted(summary.policy.items()):
        yield (f"warning: {n:,} event(s) {note}: the archive removed what this sink would keep; they are sent as "
               "archived (a hash, mask or drop cannot be undone)")
    yield f"duplicates: {duplicate_note(sink_type)}"
