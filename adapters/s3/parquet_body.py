"""The object body of ``format = "ocsf-parquet"``: a batch's OCSF rows as one Parquet file (pure).

Each item is an OCSF line already in row form (:func:`parquet_row`, applied by the adapter's
``map``): free-form JSON (``json_t``, ``unmapped.details``) as JSON text, so Arrow's native JSON
reader builds the table from the items with the schema given (no Python objects per value).

Security Lake's custom-source requirements (AWS, "Collecting data from custom sources"; copied to
``tests/data/s3/security_lake_requirements.json``) and what we do for each:

- Parquet 1.x or 2.x: we write format version 2.6 (what Glue and Athena read);
- data pages at most 1 MB uncompressed: ``data_page_size`` below;
- row groups at most 256 MB compressed: one row group per object, and an object holds at most
  ``HARD_LIMITS.max_bytes`` (100 MiB) of OCSF JSON, which compresses to a fraction of that;
- zstandard compression preferred: ``compression="zstd"``;
- records ordered by time within an object: rows sorted by ``time`` (stable, so equal times keep
  their delivery order);
- one OCSF class per object: the cut's partition names the class's source, so a batch never mixes.

The bytes depend only on the lines (no timestamps are written), so a resend after a crash PUTs
the same object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from adapters.s3.parquet_schema import arrow_schema

# Why: Security Lake: "Data page size should be limited to 1 MB (uncompressed)".
DATA_PAGE_BYTES = 1024 * 1024
# Why: Security Lake: "For compression within the Parquet object, zstandard is preferred."
COMPRESSION = "zstd"
# Why: Security Lake supports Parquet 1.x and 2.x; 2.6 is pyarrow's default and Athena reads it.
PARQUET_VERSION = "2.6"

_encoder = msgspec.json.Encoder()
_SCHEMA = arrow_schema()
# Why "ignore": a key the schema lacks must not fail a batch at run time (its resends would fail
# forever); the tests read every row back and compare it with its line, so such a key fails there.
_PARSE = pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")
# Why one thread: the core runs `concurrency` sends at once already; Arrow's own pool would compete
# with them (measured: its default 1 MiB blocks parse as fast as larger ones, so they stay).
_READ = pa_json.ReadOptions(use_threads=False)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else _encoder.encode(value).decode("utf-8")


def parquet_row(line: dict[str, Any]) -> dict[str, Any]:
    """One OCSF line as a row of the schema: free-form JSON (``json_t``, ``unmapped.details``) as JSON text."""
    row = dict(line)
    enrichments = row.get("enrichments")
    if enrichments:
        row["enrichments"] = [{**entry, "data": _json_text(entry["data"])} for entry in enrichments]
    unmapped = row.get("unmapped")
    if unmapped and "details" in unmapped:
        row["unmapped"] = {**unmapped, "details": _json_text(unmapped["details"])}
    return row


def _in_time_order(table: pa.Table) -> pa.Table:
    """The rows sorted by time, stably (equal times keep their delivery order); as they are when already sorted.

    Why the check: a batch is usually in time order already, and reordering moves every nested column.
    """
    times = table.column("time")
    if table.num_rows < 2 or pc.all(pc.greater_equal(times[1:], times[:-1])).as_py():
        return table
    return table.take(pc.sort_indices(times))  # Arrow's sort_indices is stable


def encode_parquet(items: Sequence[bytes]) -> bytes:
    """The Parquet object of one batch of encoded rows (:func:`parquet_row`), rows in time order."""
    ndjson = b"\n".join(items)
    if ndjson:
        table = pa_json.read_json(pa.BufferReader(ndjson), read_options=_READ, parse_options=_PARSE)
        table = _in_time_order(table)
    else:
        table = _SCHEMA.empty_table()
    rows = table.num_rows
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=COMPRESSION,
        data_page_size=DATA_PAGE_BYTES,
        row_group_size=max(rows, 1),  # one row group per object (see the module docstring)
        version=PARQUET_VERSION,
    )
    body: bytes = sink.getvalue().to_pybytes()
    return body
