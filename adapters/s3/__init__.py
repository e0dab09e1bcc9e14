"""The ``s3`` adapter: archive (or OCSF) lines as gzip NDJSON objects under Hive-style keys."""

from adapters.sdk import importing_sdk

with importing_sdk("s3", "s3", "boto3", "botocore"):  # the SDK is the [s3] extra
    from adapters.s3.adapter import S3Adapter
    from adapters.s3.config import S3Config

__all__ = ["S3Adapter", "S3Config"]
