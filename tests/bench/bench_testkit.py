"""Shared by the counting-endpoint tests: ship a few sample events through the real Shipper and adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from shippers.samples import sample_events
from shippers.shipper import Shipper

# Why: a loopback delivery of a few events takes milliseconds; the bound only stops a broken test.
FLUSH_TIMEOUT_SECONDS = 60.0


def ship_samples(folder: Path, sink: dict[str, Any], count: int, seed: int = 3) -> dict[str, Any]:
    """Ingest ``count`` sample events into a fresh store with one sink ``"s"``, flush, close; that sink's status."""
    docs = [msgspec.json.encode(event) for event in sample_events(count, seed=seed)]
    shipper = Shipper.from_config({"buffer": {"path": str(folder / "buf")}, "sinks": {"s": sink}}, deliver=True)
    try:
        assert not shipper.ingest_raw(docs).rejected
        assert shipper.flush(timeout=FLUSH_TIMEOUT_SECONDS), "the sink did not deliver in time"
        status: dict[str, Any] = shipper.status()["sinks"]["s"]
    finally:
        shipper.close()
    return status
