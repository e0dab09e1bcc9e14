"""The ``s3`` adapter: archive (or OCSF) lines as gzip NDJSON objects under Hive-style keys."""

from adapters.s3.adapter import S3Adapter
from adapters.s3.config import S3Config

__all__ = ["S3Adapter", "S3Config"]
