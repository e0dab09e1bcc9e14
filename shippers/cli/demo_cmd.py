"""``authlog demo``: stream sample events through every destination's local stand-in (see :mod:`shippers.demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from shippers.cli.common import console


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default="authlog-demo", show_default=True,
              help="Work folder (config, buffer, file sink output); recreated on each run.")
@click.option("--events", "count", type=click.IntRange(min=1, max=1_000_000), default=2000, show_default=True,
              help="How many sample events to stream.")
def demo(folder: Path, count: int) -> None:
    """Run the whole pipeline on local stand-ins of S3, Elasticsearch, Datadog and Cloud Logging."""
    try:
        from shippers.demo import run_demo
    except ImportError as exc:  # the stand-ins' dependencies are the `demo` extra
        raise click.ClickException(f"{exc}; install the demo extra: pip install 'authlog-shipper[demo]'") from exc
    sys.exit(run_demo(folder, count, console))
