"""The SQLite store keeps the delivery contract every store keeps (shippers.testing.source_contract)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shippers.buffer import SqliteBuffer
from shippers.testing.buffer_contract import CONTRACT_MAX_BYTES, CONTRACT_NOW
from shippers.testing.source_contract import DeliveryContract, OpenStore


class TestSqliteDeliveryContract(DeliveryContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Iterator[OpenStore]:
        handles: list[SqliteBuffer] = []

        def open_store(max_bytes: int = CONTRACT_MAX_BYTES) -> SqliteBuffer:
            handles.append(SqliteBuffer(tmp_path / "store", max_bytes=max_bytes, clock=lambda: CONTRACT_NOW))
            return handles[-1]

        yield open_store
        for handle in handles:
            handle.close()
