"""The ``authlog`` command line: one module per subcommand group, wired together in :mod:`shippers.cli.main`."""

from shippers.cli.main import main

__all__ = ["main"]
