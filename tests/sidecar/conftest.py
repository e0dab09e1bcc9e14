"""Fixtures for the sidecar tests (the doubles themselves live in sidecar_fakes.py, importable by name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sidecar_fakes import FakeShipper, ServedApp, make_config


@pytest.fixture
def fake_shipper(tmp_path: Path) -> FakeShipper:
    return FakeShipper(make_config(tmp_path, max_body_bytes=64 * 1024, max_events_per_request=100))


@pytest.fixture
def served(fake_shipper: FakeShipper) -> Iterator[ServedApp]:
    with ServedApp(fake_shipper, []) as server:
        yield server


@pytest.fixture
def served_with_token(fake_shipper: FakeShipper) -> Iterator[ServedApp]:
    with ServedApp(fake_shipper, ["s3cret-old", "s3cret-new"]) as server:
        yield server


@pytest.fixture
def served_real(tmp_path: Path) -> Iterator[ServedApp]:
    """The app over a real (non-delivering) Shipper, so the real validator and store answer."""
    from shippers.shipper import Shipper

    shipper = Shipper.from_config(make_config(tmp_path / "real", max_body_bytes=64 * 1024, max_events_per_request=100))
    try:
        with ServedApp(shipper, []) as server:  # type: ignore[arg-type]
            yield server
    finally:
        shipper.close(1.0)
