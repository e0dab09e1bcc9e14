"""Test helpers that ship with the library: local stand-ins of every destination, an in-memory sink, a chaos adapter.

The ``memory`` and ``chaos`` adapters are test doubles, never production plugins: a sink of
either type is an unknown type until the process opts in, with :func:`register_test_adapters`
or with the pytest plugin (``pytest -p shippers.testing.pytest_plugin``, or
``pytest_plugins = ["shippers.testing.pytest_plugin"]`` in a top-level ``conftest.py``).
"""

from __future__ import annotations

from shippers import plugins

# Why: the origin `authlog adapters` shows for them, so nobody mistakes them for installed plugins.
TEST_ADAPTERS_ORIGIN = "shippers.testing (test double, registered by this process)"


def register_test_adapters() -> list[str]:
    """Make sink types ``memory`` and ``chaos`` available in this process; returns their names."""
    from shippers.testing.chaos import ChaosAdapter
    from shippers.testing.memory import MemoryAdapter

    for cls in (MemoryAdapter, ChaosAdapter):
        plugins.register(cls, TEST_ADAPTERS_ORIGIN)
    return [MemoryAdapter.name, ChaosAdapter.name]


def unregister_test_adapters() -> None:
    """Undo :func:`register_test_adapters` (for a test that checks what production sees)."""
    for name in plugins.TEST_ADAPTER_NAMES:
        plugins.unregister(name)
