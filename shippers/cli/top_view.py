"""What ``authlog top`` draws, from two ``/v1/status`` documents: pure, so it is tested without a terminal.

Rates come from the difference of the persisted counters between two refreshes, divided by the
monotonic time between them (the caller measures it): a sink's events out are what the destination
took (``delivered`` + ``duplicates``), its events in what was routed to it (everything that left its
backlog, delivered, dead-lettered or dropped, plus how much the backlog grew). The first frame has no
rates ("-"); a counter that went back (another store, a sink forgotten) shows "-" for that refresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from shippers import units
from shippers.cli.sink_table import Column, SinkDoc, count, error_lines, sink_table, state_cell
from shippers.quoting import printable

Rates = dict[str, tuple[float | None, float | None]]  # sink -> (events/s in, events/s out)
# Why: below this many events/s a rate reads better with its first decimal ("0.4", not "0").
SMALL_RATE = 10.0
_MINUTE, _HOUR, _DAY = 60, 3600, 86400


@dataclass
class RateMeter:
    """Events/s in and out per sink between the last two documents it was given."""

    _previous: dict[str, tuple[int, int]] = field(default_factory=dict)  # sink -> (routed so far, out so far)
    _at: float | None = None

    def update(self, document: dict[str, Any], at: float) -> Rates:
        """Rates since the previous call (None on the first, or where a counter went back); ``at`` is monotonic seconds."""
        current = {name: (_routed(sink), _out(sink)) for name, sink in document.get("sinks", {}).items()}
        elapsed = None if self._at is None else at - self._at
        rates: Rates = {}
        for name, (routed, out) in current.items():
            before = self._previous.get(name)
            if before is None or not elapsed or elapsed <= 0:
                rates[name] = (None, None)
                continue
            rates[name] = (_rate(routed - before[0], elapsed), _rate(out - before[1], elapsed))
        self._previous, self._at = current, at
        return rates


def top_columns(rates: Rates) -> tuple[Column, ...]:
    """top's columns, most important first (a higher drop priority leaves first in a narrow terminal)."""
    return (
        Column("sink", lambda name, _sink: name),
        Column("state", state_cell),
        Column("in/s", lambda name, _sink: format_rate(rates.get(name, (None, None))[0]), numeric=True),
        Column("out/s", lambda name, _sink: format_rate(rates.get(name, (None, None))[1]), numeric=True),
        Column("backlog", lambda _name, sink: count(sink.get("lagEvents", 0)), numeric=True),
        Column("oldest", lambda _name, sink: format_age(sink.get("oldestPendingAgeSeconds")), numeric=True),
        Column("retries", lambda _name, sink: count(sink.get("retries", 0)), numeric=True),
        Column("DLQ", lambda _name, sink: count(sink.get("dlqEvents", 0)), numeric=True),
        Column("type", lambda _name, sink: str(sink.get("type", "?")), drop_priority=1),
    )


def frame(document: dict[str, Any] | None, rates: Rates, source: str, *, width_of: Any, problem: str | None = None,
          interval: float = 1.0, wall: float | None = None) -> RenderableType:
    """One screen: a header (where, uptime, buffer), the sink table, last errors, and the key help."""
    at = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() if wall is None else wall))
    footer = Text.assemble(("q", "bold"), f" quit  ·  every {interval:g}s  ·  {at}", style="dim")
    problem = None if problem is None else printable(problem)  # what the client says may quote the far end's answer
    if document is None:
        return Group(Text(f"authlog top  ·  {source}", style="bold"), Text(""),
                     Text(f"no answer: {problem or 'waiting for the first status'}", style="yellow"), Text(""), footer)
    sinks: list[tuple[str, SinkDoc]] = sorted(document.get("sinks", {}).items())
    buffer = document.get("buffer", {})
    held, limit = int(buffer.get("bytes", 0)), int(buffer.get("maxBytes", 0))
    used = f" ({100 * held / limit:.0f}%)" if limit else ""
    header = Text.assemble(
        (f"authlog {document.get('version', '')}", "bold"), f"  ·  {source}  ·  up {format_age(document.get('uptimeSeconds'))}",
    )
    store = Text(f"buffer {count(buffer.get('events', 0))} events, {units.format_size(held)} of "
                 f"{units.format_size(limit)}{used}")
    refused = sum(int(n) for n in document.get("refused", {}).get("events", {}).values())
    if refused:
        store.append(f"  ·  refused {refused:,}", style="bold red")
    parts: list[RenderableType] = [header, store, Text("")]
    if sinks:
        parts.append(sink_table(top_columns(rates), sinks, width_of))
    else:
        parts.append(Text("no sinks configured"))
    for line in error_lines(sinks):
        parts.append(Text("last error ").append_text(line))
    for line in document.get("errors", []):
        parts.append(Text(f"error: {printable(str(line))}", style="red"))
    if problem:
        parts.append(Text(f"stale: {problem}", style="yellow"))
    parts += [Text(""), footer]
    return Group(*parts)


def format_rate(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate:.1f}" if rate < SMALL_RATE else f"{rate:,.0f}"


def format_age(seconds: object) -> str:
    """12s, 4m05s, 2h03m, 3d04h; "-" for none."""
    if not isinstance(seconds, int | float):
        return "-"
    whole = int(seconds)
    if whole < _MINUTE:
        return f"{whole}s"
    if whole < _HOUR:
        return f"{whole // _MINUTE}m{whole % _MINUTE:02d}s"
    if whole < _DAY:
        return f"{whole // _HOUR}h{whole % _HOUR // _MINUTE:02d}m"
    return f"{whole // _DAY}d{whole % _DAY // _HOUR:02d}h"


def _out(sink: SinkDoc) -> int:
    return int(sink.get("delivered", 0)) + int(sink.get("duplicates", 0))


def _routed(sink: SinkDoc) -> int:
    left = _out(sink) + int(sink.get("deadLettered", 0)) + int(sink.get("dropped", 0))
    return left + int(sink.get("lagEvents", 0))


def _rate(delta: int, elapsed: float) -> float | None:
    return None if delta < 0 else delta / elapsed
