"""Fixtures of the Datadog adapter tests: the standard-attribute facts and one local intake per session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from datadog_testkit import DATA, FIXED, KEY

from shippers.testing.fake_datadog import FakeDatadog


@pytest.fixture(scope="session")
def standard_attributes() -> dict[str, Any]:
    return json.loads((DATA / "standard_attributes.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def intake_server() -> Iterator[FakeDatadog]:
    """One local Datadog intake for the session, on port 0, with the fixed clock."""
    with FakeDatadog(api_key=KEY, clock=lambda: FIXED) as fake:
        yield fake


@pytest.fixture
def intake(intake_server: FakeDatadog) -> FakeDatadog:
    """The session's intake, emptied of items, requests and pending faults."""
    intake_server.reset()
    return intake_server
