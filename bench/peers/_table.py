"""The side-by-side table: per peer, the median and range over its runs, and the ratio to rsyslog.

With a fan-out (``endpoints`` > 1) events/s counts an event once it is in all of them, CPU s per
100k is per event (not per copy sent), and a run is "stored exactly once" only when every
endpoint holds each event once. Under the table: the endpoints' own CPU per 100k events, and the
cores other processes on the shared machine kept busy: shares of the 2 cores the peer did not get;
then the most events/s the peer and its endpoints could reach on the machine's cores idle
(cores / their CPU seconds per event: a bound from the robust figure, not a measurement; it
assumes the peer spreads over every core, and leaves authlog's producer out, ~0.2 s/100k).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from _peer import Result

MIB = 1024 * 1024


def _spread(values: Sequence[float], shown: Callable[[float], str]) -> str:
    """``median (min-max)``, or the one value."""
    if len(values) == 1:
        return shown(values[0])
    return f"{shown(statistics.median(values))} ({shown(min(values))}-{shown(max(values))})"


def table(results: Sequence[Result], peers: Sequence[str], skipped: dict[str, str], endpoints: int = 1,
          cores: int = 2) -> str:  # fmt: skip
    """Markdown rows: events/s, CPU s per 100k events, summed peak RSS, exactly once, ratios to rsyslog."""
    by_peer = {peer: [r for r in results if r.peer == peer] for peer in peers}
    good = {peer: [r for r in runs if r.error is None] for peer, runs in by_peer.items()}
    baseline = good.get("rsyslog") or []
    base_rate = statistics.median([r.per_second for r in baseline]) if baseline else None
    base_cpu = statistics.median([r.cpu_per_100k for r in baseline]) if baseline else None
    rate_heading = "events/s" if endpoints == 1 else f"events/s into all {endpoints}"
    once_heading = "stored exactly once" if endpoints == 1 else "stored exactly once in each"
    lines = [
        f"| peer | {rate_heading}, median (range) | CPU s per 100k events | peak RSS, summed | {once_heading} "
        "| events/s vs rsyslog | CPU vs rsyslog |",
        "|---|---|---|---|---|---|---|",
    ]
    for peer in peers:
        if peer in skipped:
            lines.append(f"| {peer} | not run: {skipped[peer]} | | | | | |")
            continue
        runs, ok = by_peer[peer], good[peer]
        if not ok:
            why = runs[0].error if runs else "no run"
            lines.append(f"| {peer} | every run failed: {why} | | | 0/{len(runs)} | | |")
            continue
        rate = statistics.median([r.per_second for r in ok])
        cpu = statistics.median([r.cpu_per_100k for r in ok])
        ratio = f"{rate / base_rate:.2f}x" if base_rate else "-"
        cpu_ratio = f"{cpu / base_cpu:.2f}x" if base_cpu else "-"
        once = sum(r.exactly_once for r in runs)
        lines.append(
            f"| {peer} | {_spread([r.per_second for r in ok], lambda v: f'{v:,.0f}')} "
            f"| {_spread([r.cpu_per_100k for r in ok], lambda v: f'{v:.2f}')} "
            f"| {_spread([r.peak_rss / MIB for r in ok], lambda v: f'{v:.0f} MiB')} "
            f"| {once}/{len(runs)} | {ratio} | {cpu_ratio} |"
        )
    if any(good.values()):
        what = "the endpoint's" if endpoints == 1 else f"the {endpoints} endpoints'"
        lines += ["", f"{what} CPU s per 100k events (not the peer's; median): {_medians(good, lambda r: r.far_cpu_per_100k)}",
                  f"other processes on the machine during the runs, cores busy (median): {_medians(good, lambda r: r.others_cores)}",
                  f"at most on {cores} idle cores, events/s (cores / the peer's and endpoints' CPU per event; median): "
                  + _medians(good, lambda r: r.bound(cores), "{:,.0f}")]  # fmt: skip
    return "\n".join(lines)


def _medians(good: dict[str, list[Result]], figure: Callable[[Result], float], shown: str = "{:.2f}") -> str:
    """``peer median, ...`` of one figure over each peer's good runs."""
    return ", ".join(f"{peer} {shown.format(statistics.median([figure(r) for r in runs]))}" for peer, runs in good.items() if runs)
