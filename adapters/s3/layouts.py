"""Where a batch goes and what its object holds: the hourly archive layout, or Security Lake's (pure).

- :class:`HourlyLayout` (``ndjson``, ``ocsf``): ``dt=/hour=`` (+ ``tenant=``) partitions, gzip NDJSON.
- :class:`SecurityLakeLayout` (``ocsf-parquet``): one custom source per OCSF class under
  ``ext/<source>/region=/accountId=/eventDay=``, one Parquet file per batch. The partition names
  the class's source, so the core's cut never puts two classes in one object.

Both are pure: the core re-cuts a recorded batch after a crash with the same partition and key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adapters.s3 import keys
from adapters.s3.config import S3Config, SecurityLake
from adapters.s3.encoder import PARQUET_SUFFIX, encode_body
from shippers.catalog import Catalog
from shippers.event import Event


class HourlyLayout:
    """``dt=YYYY-MM-DD/hour=HH[/tenant=<id>]`` partitions of gzip NDJSON objects."""

    suffix = keys.SUFFIX

    def __init__(self, config: S3Config) -> None:
        self._by_tenant = "tenant" in config.partition_by
        self._zlib_level = config.gzip_level

    def unplaceable(self, event: Event) -> str | None:
        """Why this event has no partition (never, here)."""
        return None

    def row(self, line: dict[str, Any]) -> dict[str, Any]:
        """An OCSF line as this layout's objects hold it: as it is."""
        return line

    def partition(self, event: Event) -> str:
        return keys.partition_of(event, self._by_tenant)

    def body(self, items: Sequence[bytes]) -> bytes:
        return encode_body(items, self._zlib_level)


class SecurityLakeLayout:
    """Security Lake's custom-source layout: one source per class, a day per partition, Parquet bodies."""

    suffix = PARQUET_SUFFIX

    def __init__(self, lake: SecurityLake, catalog: Catalog) -> None:
        # pyarrow (the `parquet` extra) is imported by the sinks that write Parquet only.
        from adapters.s3.parquet_body import encode_parquet, parquet_row

        self._lake = lake
        self._catalog = catalog
        self._encode = encode_parquet
        self.row: Callable[[dict[str, Any]], dict[str, Any]] = parquet_row  # free-form JSON as JSON text

    def _source(self, event: Event) -> str | None:
        return self._lake.sources.get(str(self._catalog[event.type].ocsf_class_uid))

    def unplaceable(self, event: Event) -> str | None:
        """A dead-letter reason for an event whose OCSF class has no custom source configured."""
        if self._source(event) is not None:
            return None
        class_uid = self._catalog[event.type].ocsf_class_uid
        return (
            f"its OCSF class {class_uid} has no Security Lake source: add security_lake.sources.\"{class_uid}\" "
            "or route these event types to another sink"
        )

    def partition(self, event: Event) -> str:
        source = self._source(event)
        if source is None:  # dead-lettered by check_item before the cut asks
            return ""
        return keys.security_lake_partition(event, source, self._lake.region, self._lake.account_id)

    def body(self, items: Sequence[bytes]) -> bytes:
        return self._encode(items)


Layout = HourlyLayout | SecurityLakeLayout


def layout_for(config: S3Config, catalog: Catalog) -> Layout:
    """The layout of a sink's config (config checks guarantee security_lake with ocsf-parquet)."""
    if config.security_lake is not None:
        return SecurityLakeLayout(config.security_lake, catalog)
    return HourlyLayout(config)
