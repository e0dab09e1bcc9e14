"""Fixtures of the Cloud Logging adapter tests: the LogEntry facts and one local stand-in per session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from gcl_testkit import DATA, FIXED, PROJECT

from shippers.testing.fake_cloud_logging import FakeCloudLogging


@pytest.fixture(scope="session")
def log_entry_facts() -> dict[str, Any]:
    return json.loads((DATA / "log_entry.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def gcl_server() -> Iterator[FakeCloudLogging]:
    """One local Cloud Logging stand-in for the session, on port 0, with the fixed clock."""
    with FakeCloudLogging(projects=(PROJECT,), clock=lambda: FIXED) as fake:
        yield fake


@pytest.fixture
def gcl(gcl_server: FakeCloudLogging) -> FakeCloudLogging:
    """The session's stand-in, emptied of entries, requests and pending faults."""
    gcl_server.reset()
    return gcl_server
