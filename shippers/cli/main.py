"""The ``authlog`` entry point: the click group and its subcommands."""

from __future__ import annotations

import click

from shippers import __version__
from shippers.cli.catalog_cmds import adapters, catalog, check_config
from shippers.cli.demo_cmd import demo
from shippers.cli.run_cmds import dlq, run, send, status


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="authlog")
def cli() -> None:
    """authlog: ship catalog-checked authentication events to your SIEM, durably."""


for command in (catalog, check_config, adapters, run, send, status, dlq, demo):
    cli.add_command(command)


def main() -> None:
    cli()
