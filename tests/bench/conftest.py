"""Fixtures for the counting-endpoint tests: each module's endpoint, started once, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.endpoints.process import Endpoint


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    """The endpoint a test module names in its ``START`` (a callable returning an Endpoint), in its own process."""
    with request.module.START() as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(server: Endpoint) -> Endpoint:
    server.reset()
    return server
