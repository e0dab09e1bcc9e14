"""A pytest plugin that opts a test session in to the ``memory`` and ``chaos`` test adapters.

Never auto-loaded (there is no ``pytest11`` entry point): enable it explicitly, with
``pytest -p shippers.testing.pytest_plugin`` or, in your top-level ``conftest.py``::

    pytest_plugins = ["shippers.testing.pytest_plugin"]

The adapters are then registered for the whole session (sinks of ``type = "memory"`` or
``"chaos"`` load), and the ``authlog_test_sinks`` fixture gives a test their state, emptied
before and after it::

    def test_retries(authlog_test_sinks, tmp_path):
        authlog_test_sinks.chaos.script("s").fail(times=2)
        shipper = Shipper.from_config({"buffer": {"path": str(tmp_path)}, "sinks": {"s": {"type": "chaos"}}})
        ...
        assert [e.id for e in authlog_test_sinks.chaos.delivered["s"]] == [...]
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from shippers.testing import register_test_adapters, unregister_test_adapters


def pytest_configure(config: pytest.Config) -> None:
    register_test_adapters()


def pytest_unconfigure(config: pytest.Config) -> None:
    unregister_test_adapters()


@pytest.fixture
def authlog_test_sinks() -> Iterator[SimpleNamespace]:
    """The ``memory`` and ``chaos`` modules (``.memory.delivered_ids(sink)``, ``.chaos.script(sink)``), reset around the test."""
    from shippers.testing import chaos, memory

    memory.reset()
    chaos.reset()
    yield SimpleNamespace(memory=memory, chaos=chaos)
    memory.reset()
    chaos.reset()
