"""The ``authlog`` entry point: the click group and its subcommands."""

from __future__ import annotations

import click

from shippers import __version__
from shippers.cli.catalog_cmds import adapters, catalog, check_config
from shippers.cli.common import EXIT_RUNTIME, fail, report_config_error
from shippers.cli.demo_cmd import demo
from shippers.cli.fleet_cmds import fleet
from shippers.cli.run_cmds import dlq, run, send, sinks, status
from shippers.errors import AuthlogError, ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="authlog")
def cli() -> None:
    """authlog: ship catalog-checked authentication events to your SIEM, durably."""


for command in (catalog, check_config, adapters, run, send, status, dlq, sinks, fleet, demo):
    cli.add_command(command)


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        report_config_error(exc)
    except AuthlogError as exc:  # the store, the lock...: a message a person can act on, not a traceback
        fail(str(exc), EXIT_RUNTIME)
