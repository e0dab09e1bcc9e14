"""The file adapter writes archive lines, rotates by size, and passes the adapter contract suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.contract import Request
from adapters.file import FileAdapter, FileConfig
from shippers.config import ByteSize, FilePath
from shippers.event import encode_event
from shippers.testing.contract import AdapterContract, contract_context, sample_events


def make(path: Path, **kwargs: object) -> FileAdapter:
    return FileAdapter(contract_context("local"), FileConfig(path=FilePath(str(path)), **kwargs))  # type: ignore[arg-type]


def request_for(adapter: FileAdapter, events: list) -> Request:
    docs = [adapter.map(e) for e in events]
    return Request(1, "local", "", None, 1, len(events), events, docs, [adapter.encode_item(d) for d in docs])


class TestFileContract(AdapterContract):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> FileAdapter:
        return make(tmp_path / "out.ndjson")

    @pytest.fixture
    def unreachable_adapter(self, tmp_path: Path) -> FileAdapter:
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        return make(blocker / "out.ndjson")  # a path under a regular file cannot be created


def test_writes_archive_lines(tmp_path: Path) -> None:
    """Each delivered event is one archive line, exactly encode_event's bytes."""
    events = sample_events()[:5]
    adapter = make(tmp_path / "out.ndjson")
    assert adapter.send(request_for(adapter, events)).kind == "delivered"
    lines = (tmp_path / "out.ndjson").read_bytes().splitlines()
    assert lines == [encode_event(e) for e in events]
    assert json.loads(lines[0])["schemaVersion"] == 1


def test_rotates_by_size_and_keeps_max_files(tmp_path: Path) -> None:
    """When the next batch would pass max_file_bytes the file is rotated; only max_files rotated files stay."""
    events = sample_events()[:3]
    adapter = make(tmp_path / "out.ndjson", max_file_bytes=ByteSize(600), max_files=2)
    for _ in range(5):
        assert adapter.send(request_for(adapter, events)).kind == "delivered"
    rotated = sorted(p.name for p in tmp_path.glob("out.ndjson.*"))
    assert rotated == ["out.ndjson.3", "out.ndjson.4"]
    assert (tmp_path / "out.ndjson").stat().st_size > 0
