"""The object body of ``format = "ocsf-parquet"``: a batch's OCSF lines as one Parquet file (pure).

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
import pyarrow.parquet as pq

from adapters.s3.parquet_schema import arrow_schema

# Why: Security Lake: "Data page size should be limited to 1 MB (uncompressed)".
DATA_PAGE_BYTES = 1024 * 1024
# Why: Security Lake: "For compression within the Parquet object, zstandard is preferred."
COMPRESSION = "zstd"
# Why: Security Lake supports Parquet 1.x and 2.x; 2.6 is pyarrow's default and Athena reads it.
PARQUET_VERSION = "2.6"

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
_SCHEMA = arrow_schema()


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else _encoder.encode(value).decode("utf-8")


def parquet_row(line: dict[str, Any]) -> dict[str, Any]:
    """One OCSF line as a row of the schema: free-form JSON (``json_t``, ``unmapped``) as JSON text."""
    row = dict(line)
    enrichments = row.get("enrichments")
    if enrichments:
        row["enrichments"] = [{**entry, "data": _json_text(entry["data"])} for entry in enrichments]
    unmapped = row.get("unmapped")
    if unmapped:
        row["unmapped"] = {key: _json_text(value) for key, value in unmapped.items()}
    return row


def encode_parquet(items: Sequence[bytes]) -> bytes:
    """The Parquet object of one batch of encoded OCSF lines, rows in time order."""
    rows = [parquet_row(_decoder.decode(item)) for item in items]
    rows.sort(key=lambda row: row["time"])
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=COMPRESSION,
        data_page_size=DATA_PAGE_BYTES,
        row_group_size=max(len(rows), 1),  # one row group per object (see the module docstring)
        version=PARQUET_VERSION,
    )
    body: bytes = sink.getvalue().to_pybytes()
    return body
