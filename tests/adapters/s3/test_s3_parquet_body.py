"""The Parquet body: every line comes back from the file as written, time-ordered, within Security Lake's settings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest
from ocsf_check import ocsf_problems
from s3_testkit import (
    DATA,
    SECURITY_LAKE,
    enriched,
    every_type_and_reason,
    full_event,
    make_adapter,
    minimal_event,
    without_nulls,
)

from adapters.s3 import parquet_body
from adapters.s3.mapping import to_ocsf
from adapters.s3.parquet_body import encode_parquet, parquet_row
from adapters.s3.parquet_schema import arrow_schema
from shippers.catalog import builtin_catalog

LAKE = SECURITY_LAKE
REQUIREMENTS = json.loads((Path(DATA) / "security_lake_requirements.json").read_text("utf-8"))


def lines_for_every_type(enrich: bool) -> list[dict[str, Any]]:
    adapter = make_adapter(format="ocsf-parquet", security_lake=LAKE)
    out = []
    for i, (type_, reason) in enumerate(every_type_and_reason()):
        event = msgspec.structs.replace(full_event(type_, reason, ip="2001:db8::7" if i % 2 else "203.0.113.7"), id=f"e-{i}")
        if enrich:
            event = enriched(event)
        out.append(json.loads(adapter.map(event)))
    out.append(json.loads(adapter.map(minimal_event("login.completed"))))
    return out


@pytest.mark.parametrize("enrich", [True, False])
def test_every_line_reads_back_as_written(enrich: bool) -> None:
    """Each OCSF line (every type and reason, IPv4/IPv6, with and without enrichment) is one row holding exactly it."""
    lines = lines_for_every_type(enrich)
    assert all(ocsf_problems(line) == [] for line in lines)
    table = pq.read_table(io.BytesIO(encode_parquet([json.dumps(line).encode() for line in lines])))
    assert table.schema.equals(arrow_schema())
    by_id = {row["metadata"]["uid"]: without_nulls(row) for row in table.to_pylist()}
    assert len(by_id) == len(lines)
    for line in lines:
        assert by_id[line["metadata"]["uid"]] == parquet_row(line)


def test_free_form_json_is_json_text() -> None:
    """unmapped.details and enrichment data (any JSON) are stored as JSON text a query can parse back."""
    line = to_ocsf(enriched(full_event("login.completed")), builtin_catalog()["login.completed"], "shop")
    row = parquet_row(line)
    assert json.loads(row["unmapped"]["details"]) == line["unmapped"]["details"]
    assert row["unmapped"]["action"] == line["unmapped"]["action"]  # a string stays itself
    assert [json.loads(e["data"]) for e in row["enrichments"]] == [e["data"] for e in line["enrichments"]]


def test_rows_are_in_time_order() -> None:
    """Security Lake: records ordered by time within an object (equal times keep their order)."""
    lines = [{**lines_for_every_type(False)[0], "time": t, "message": str(i)} for i, t in enumerate([30, 10, 20, 10])]
    table = pq.read_table(io.BytesIO(encode_parquet([json.dumps(line).encode() for line in lines])))
    assert [(r["time"], r["message"]) for r in table.to_pylist()] == [(10, "1"), (10, "3"), (20, "2"), (30, "0")]


def test_the_file_follows_security_lakes_settings() -> None:
    """zstd, one row group, data pages within 1 MB uncompressed, a Parquet 2.x file."""
    lines = lines_for_every_type(True) * 200
    body = encode_parquet([json.dumps(line).encode() for line in lines])
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    assert meta.num_row_groups == 1 and meta.num_rows == len(lines)
    assert meta.format_version.startswith("2")
    columns = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
    assert {c.compression for c in columns} == {"ZSTD"}
    assert parquet_body.COMPRESSION == REQUIREMENTS["preferred_compression"]
    assert parquet_body.DATA_PAGE_BYTES == REQUIREMENTS["max_data_page_bytes_uncompressed"]
    assert meta.row_group(0).total_byte_size <= REQUIREMENTS["max_row_group_bytes_compressed"]


def test_a_key_the_schema_lacks_never_fails_a_batch() -> None:
    """An unexpected key is left out of the file (not an error that would fail every resend); the round trip above catches it."""
    line = {**lines_for_every_type(False)[0], "colour": "red"}
    table = pq.read_table(io.BytesIO(encode_parquet([json.dumps(line).encode()])))
    assert "colour" not in table.schema.names and table.num_rows == 1


def test_an_empty_batch_is_an_empty_file_of_the_schema() -> None:
    """No rows: still a valid Parquet file with the schema (the core never sends one, but the encoder is total)."""
    table = pq.read_table(io.BytesIO(encode_parquet([])))
    assert table.num_rows == 0 and table.schema.equals(arrow_schema())


def test_the_same_batch_is_the_same_bytes() -> None:
    """A resend after a crash PUTs byte-identical objects (no write time in the file)."""
    items = [json.dumps(line).encode() for line in lines_for_every_type(True)]
    assert encode_parquet(items) == encode_parquet(list(items))
