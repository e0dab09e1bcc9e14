"""``python -m shippers.cli``: the same as the ``authlog`` console script."""

from shippers.cli.main import main

main()
