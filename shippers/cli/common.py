"""What every subcommand shares: the -c option, config loading with the exit codes of DESIGN.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from shippers.config import DEFAULT_CONFIG_FILE, Config, load_config
from shippers.errors import ConfigError

# Exit codes (DESIGN.md): 0 ok, 2 usage or config error, 1 runtime failure.
EXIT_RUNTIME = 1
EXIT_CONFIG = 2

console = Console()
errors = Console(stderr=True, soft_wrap=True)

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CONFIG_FILE,
    show_default=True,
    help="The authlog.toml to use.",
)


def store_where(config: Config | None) -> str:
    """Where the store is, for messages: the embedded store's folder, or the JetStream stream and its servers."""
    if config is None:
        return "?"
    if config.buffer.kind == "jetstream":
        return f"stream {config.buffer.stream} at {', '.join(config.buffer.servers)}"
    return str(config.buffer.path)


def fail(message: str, code: int = EXIT_RUNTIME) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    sys.exit(code)


def report_config_error(exc: ConfigError, path: Path | None = None) -> NoReturn:
    where = f" in {path}" if path else ""
    errors.print(f"[bold red]{len(exc.problems)} problem(s){where}:[/]")
    for problem in exc.problems:
        errors.print(f"  - {problem}", markup=False, highlight=False)
    sys.exit(EXIT_CONFIG)


def read_config(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        report_config_error(exc, path)
