"""``authlog catalog``, ``check-config`` and ``adapters``: commands that only read files."""

from __future__ import annotations

import time
from pathlib import Path

import click
import msgspec
from rich.table import Table
from rich.text import Text

from shippers.catalog import load_catalog
from shippers.cli.common import config_option, console, read_config, report_config_error
from shippers.errors import ConfigError
from shippers.plugins import broken_adapters, build_adapters, installed_adapters


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (DESIGN.md shape).")
@click.option("--extra", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Also load this catalog extension file.")
def catalog(as_json: bool, extra: Path | None) -> None:
    """List the event types the shipper accepts."""
    try:
        types = load_catalog(extra)
    except ConfigError as exc:
        report_config_error(exc, extra)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode([t.as_json() for t in types]), indent=2))
        return
    table = Table(title=f"{len(types)} event types")
    for column in ("type", "outcome", "action", "reasons"):
        table.add_column(column)
    for entry in types:
        style = "green" if entry.outcome == "success" else "red"
        reasons = ", ".join(entry.reasons) or "-"
        table.add_row(entry.name, f"[{style}]{entry.outcome}[/]", entry.action, reasons)
    console.print(table)


@click.command("check-config")
@config_option
def check_config(config_path: Path) -> None:
    """Validate a config file; list every problem and exit 2 if there is any."""
    config = read_config(config_path)
    try:
        types = load_catalog(Path(config.catalog.extra) if config.catalog.extra else None)
        for adapter in build_adapters(config.sinks.values(), types, time.time).values():
            adapter.close()
    except ConfigError as exc:
        report_config_error(exc, config_path)
    sinks = ", ".join(f"{name} ({sink.common.type})" for name, sink in config.sinks.items())
    console.print(f"[green]ok[/]: {config_path} is valid; sinks: {sinks}")


@click.command()
def adapters() -> None:
    """List the installed adapter plugins (entry-point group authlog.adapters)."""
    table = Table(title="adapters")
    for column in ("type", "from", "what it does"):
        table.add_column(column)
    for name, info in sorted(installed_adapters().items()):
        table.add_row(name, info.origin, info.cls.summary)
    for name, why in sorted(broken_adapters().items()):
        table.add_row(name, "-", Text.assemble(("cannot load", "red"), f": {why}"))  # why may hold [extra] brackets
    console.print(table)
