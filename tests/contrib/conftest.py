"""Fixtures of the integration tests: a fresh Prometheus registry, and no shipper left configured after a test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

import shippers

# The test projects (Django's under django_app/, the example apps) import as top-level packages from here.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def registry() -> CollectorRegistry:
    """The app's own registry for one test (so counts start at 0)."""
    return CollectorRegistry()


@pytest.fixture(autouse=True)
def _no_shipper_left() -> Iterator[None]:
    yield
    shippers.shutdown(timeout=5)

