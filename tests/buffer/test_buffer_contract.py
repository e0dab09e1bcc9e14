"""The SQLite store keeps every promise of the Buffer protocol (shippers.testing.buffer_contract)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shippers.buffer import SqliteBuffer
from shippers.testing.buffer_contract import CONTRACT_MAX_BYTES, BufferContract, OpenStore


class TestSqliteBufferContract(BufferContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Iterator[OpenStore]:
        handles: list[SqliteBuffer] = []

        def open_store(max_bytes: int = CONTRACT_MAX_BYTES) -> SqliteBuffer:
            handles.append(SqliteBuffer(tmp_path / "store", max_bytes=max_bytes, clock=lambda: 1_795_000_000.0))
            return handles[-1]

        yield open_store
        for handle in handles:
            handle.close()
