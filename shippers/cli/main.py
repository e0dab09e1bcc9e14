"""The ``authlog`` entry point: the click group, whose subcommands are imported only when they run.

A probe runs ``authlog health`` every few seconds and ``authlog --version`` is the first thing a
person types: neither may pay for aiohttp, the store or a destination SDK. So the group knows each
subcommand by the module that defines it (``COMMANDS``) and imports that module on first use
(click's "lazy loading" pattern); ``authlog --help`` imports them all to show their summaries.
"""

from __future__ import annotations

import click

from shippers.errors import AuthlogError, ConfigError

# name -> "module:attribute" of the click command; the order is the order of `authlog --help`.
COMMANDS = {
    "run": "shippers.cli.run_cmds:run",
    "send": "shippers.cli.run_cmds:send",
    "status": "shippers.cli.run_cmds:status",
    "top": "shippers.cli.top_cmd:top",
    "health": "shippers.cli.health_cmd:health",
    "dlq": "shippers.cli.run_cmds:dlq",
    "replay": "shippers.cli.replay_cmd:replay",
    "sinks": "shippers.cli.run_cmds:sinks",
    "check-config": "shippers.cli.catalog_cmds:check_config",
    "catalog": "shippers.cli.catalog_cmds:catalog",
    "adapters": "shippers.cli.catalog_cmds:adapters",
    "demo": "shippers.cli.demo_cmd:demo",
}


class LazyGroup(click.Group):
    """A group whose commands are imported from ``COMMANDS`` when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        import importlib

        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), target
        return command


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the installed version, read only when asked (importlib.metadata is slow to import)."""
    if not value or ctx.resilient_parsing:
        return
    import shippers

    click.echo(f"authlog, version {shippers.__version__}")
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli() -> None:
    """authlog: ship catalog-checked authentication events to your SIEM, durably."""


def main() -> None:
    try:
        cli()
    except ConfigError as exc:
        from shippers.cli.common import report_config_error

        report_config_error(exc)
    except AuthlogError as exc:  # the store, the lock...: a message a person can act on, not a traceback
        from shippers.cli.common import EXIT_RUNTIME, fail

        fail(str(exc), EXIT_RUNTIME)
