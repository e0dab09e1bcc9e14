"""One table row per sink that fits the terminal: what ``authlog status`` and ``authlog top`` draw.

Rich shrinks a table that is too wide by cutting every cell to a few letters ("sear…",
"acti…"). Here no cell is ever cut: each column has a priority, and while the table is wider than
the terminal the least important column goes (a column of zeros first), so sink names, states and
numbers stay whole in 80 columns. Only a sink name too long for any layout folds onto a second line.
A terminal too narrow even for the columns that always stay (20 columns) gets each sink as a list,
one ``field value`` line each: wrapped where it must be, never cut ("12…" for 1,234,567 misleads).
A sink's last error is no column at all: it is printed under the table, wrapped (see :func:`error_lines`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from shippers.quoting import folded

SinkDoc = dict[str, Any]
STATE_STYLES = {"active": "green", "retrying": "yellow", "blocked": "yellow", "failing": "bold red"}
# Why: a sink's error is shown whole under the table, but a destination's answer can be a page long.
MAX_ERROR_CHARS = 300
ALWAYS = 0  # a column's priority when it is never dropped
# Why: wide enough that no table of ours is clamped when its natural width is measured.
UNBOUNDED_WIDTH = 10_000


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its header, the cell of one sink, and its priority (higher goes first when too wide; ALWAYS stays)."""

    header: str
    cell: Callable[[str, SinkDoc], str | Text]
    numeric: bool = False
    drop_priority: int = ALWAYS


def count(value: object) -> str:
    """A whole number with thousands separators; "-" when the sidecar did not say."""
    return f"{int(value):,}" if isinstance(value, int | float) else "-"


def state_cell(_name: str, sink: SinkDoc) -> Text:
    state = str(sink.get("state", "?"))
    return Text(state, style=STATE_STYLES.get(state, ""))


def sink_table(columns: Sequence[Column], sinks: Sequence[tuple[str, SinkDoc]], console: Console,
               title: str | None = None) -> RenderableType:
    """The widest table of ``columns`` that fits ``console.width``, else each sink as a list; no cell is cut (module docstring)."""
    cells = {column.header: [column.cell(name, sink) for name, sink in sinks] for column in columns}
    shown = list(columns)
    while True:
        table = _build(shown, cells, title, fold_names=False)
        if _measure(table, console).maximum <= console.width:
            return table
        droppable = [c for c in shown if c.drop_priority != ALWAYS]
        if not droppable:
            fitted = _build(shown, cells, title, fold_names=True)
            if _measure(fitted, console).minimum <= console.width:
                return fitted
            return _listed(columns, cells, title)  # a list has room for every column, dropped ones too
        shown.remove(max(droppable, key=lambda c: (_all_zero(cells[c.header]), c.drop_priority)))


def error_lines(sinks: Sequence[tuple[str, SinkDoc]], key: str = "lastError") -> list[Text]:
    """``<sink>: <last error>`` for each sink that has one, cut to MAX_ERROR_CHARS, for printing under the table."""
    lines = []
    for name, sink in sinks:
        error = sink.get(key)
        if error:
            error = folded(str(error), MAX_ERROR_CHARS)  # a destination's words: no escape sequence reaches the terminal
            lines.append(Text.assemble((f"{name}: ", "bold"), error))
    return lines


def _build(columns: Sequence[Column], cells: dict[str, list[str | Text]], title: str | None, *, fold_names: bool) -> Table:
    # padding (0, 1, 0, 0) and the box's one-space divider: two spaces between columns
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  title_justify="left")
    for index, column in enumerate(columns):
        folds = fold_names and index == 0
        table.add_column(column.header, justify="right" if column.numeric else "left", no_wrap=not folds,
                         overflow="fold" if folds else "ellipsis")
    for row in zip(*(cells[c.header] for c in columns), strict=True):
        table.add_row(*row)
    return table


def _listed(columns: Sequence[Column], cells: dict[str, list[str | Text]], title: str | None) -> Group:
    """Each sink as its name then one ``header value`` line per column."""
    names, rest = columns[0], columns[1:]
    parts: list[RenderableType] = [Text(title, style="bold")] if title else []
    for index, name in enumerate(cells[names.header]):
        parts.append(Text(str(name), style="bold", overflow="fold"))
        for column in rest:
            parts.append(Text.assemble(f"  {column.header} ", cells[column.header][index]))
    return Group(*parts)


def _measure(table: Table, console: Console) -> Measurement:
    """``table``'s widths unclamped (console.measure clamps to the terminal's): ``maximum`` when nothing is cut,
    ``minimum`` with only its folding column folded."""
    unbounded = console.options.update_width(UNBOUNDED_WIDTH)
    return Measurement.get(console, unbounded, table)


def _all_zero(values: list[str | Text]) -> bool:
    return all(str(v) in ("0", "-") for v in values)
