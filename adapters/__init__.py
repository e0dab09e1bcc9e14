"""Destination adapters: one sub-package per destination, each a plugin of the ``authlog.adapters`` group.

The contract every adapter implements is in :mod:`adapters.contract`.
"""
