"""The ``s3`` sink's own keys, their defaults, and the limits of S3 ``PutObject`` we build within.

S3 facts (AWS S3 User Guide, "Uploading objects" and "Object key naming"; CONTRACTS.md):
a single PUT takes up to 5 GB, multipart is advised past ~100 MB, a key is at most
1024 bytes of UTF-8, and ``If-None-Match: *`` makes a PUT a no-op (412) when the key exists.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Literal

import msgspec

from adapters.compression import MAX_ZLIB_LEVEL, MIN_ZLIB_LEVEL
from adapters.contract import BatchLimits, HardLimits
from shippers.config import Duration

# Why: the defaults: 10 MiB of lines (~1-2 MiB gzipped) / 100k events / 60 s keeps
# objects few and large enough for Athena and SIEM S3 inputs while bounding archive latency.
BATCH_DEFAULTS = BatchLimits(max_events=100_000, max_bytes=10 * 1024 * 1024, timeout=60.0)
# Why: one in-memory PUT; AWS advises multipart past ~100 MB, so we stay a single PUT below it.
# S3 has no line count limit: 1M events only bounds the Python objects of one batch.
# 1 MiB per line matches the file sink (events are capped far below it at ingest).
HARD_LIMITS = HardLimits(max_events=1_000_000, max_bytes=100 * 1024 * 1024, max_item_bytes=1024 * 1024)
# Why: Security Lake's custom sources: "Files sent to Security Lake should be sent in increments between
# 5 minutes and 1 event day" (more often only for files over 256 MB). So a Parquet sink waits 5 minutes
# and cuts on size only at the hard limit: 100 MiB of OCSF JSON is a Parquet object well under 256 MB.
PARQUET_BATCH_DEFAULTS = BatchLimits(max_events=HARD_LIMITS.max_events, max_bytes=HARD_LIMITS.max_bytes, timeout=300.0)
# Why: "The name for a key is a sequence of Unicode characters whose UTF-8 encoding is at most 1,024 bytes long."
MAX_KEY_BYTES = 1024
# Why: botocore's own client-side bucket check (``VALID_BUCKET``); legacy us-east-1 buckets and
# S3-compatible stores allow upper case and '_', so we are no stricter than the SDK.
BUCKET_NAME = re.compile(r"^[a-zA-Z0-9.\-_]{3,255}$")
# Why: botocore's default read timeout; a 100 MiB PUT on a slow uplink needs the headroom.
DEFAULT_REQUEST_TIMEOUT = 60.0
# Why: an AWS account id is 12 digits; it becomes the accountId= partition Security Lake reads.
ACCOUNT_ID = re.compile(r"\d{12}")
# Why: AWS Region names (us-east-1, ap-southeast-2, us-gov-west-1); the region= partition.
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
# Why: CreateCustomLogSource: "a CustomLogSource name that is shorter than or equal to 20 characters"
# (so its IAM role name stays under 64), pattern ^[\w\-\_\:\.]*$; ':' is left out here because it
# must not appear in a key segment (CONTRACTS.md).
MAX_SOURCE_NAME = 20
SOURCE_NAME = re.compile(rf"[\w\-.]{{1,{MAX_SOURCE_NAME}}}")
# The custom source's version, when Security Lake's location for it carries one (ext/<name>/<version>/).
SOURCE_VERSION = re.compile(r"[\w\-.]{1,64}")
# The classes this sink writes, each to its own custom source (Security Lake: one class per source).
SECURITY_LAKE_CLASSES = {"3002": "Authentication", "3001": "Account Change"}
# Why: these algorithms need the optional ``awscrt`` package in botocore.
CRT_CHECKSUMS = ("CRC32C", "CRC64NVME")

Format = Literal["ndjson", "ocsf", "ocsf-parquet"]
# The formats whose lines are OCSF events (and so name the service users sign in to).
OCSF_FORMATS = ("ocsf", "ocsf-parquet")
PARQUET = "ocsf-parquet"
Sse = Literal["AES256", "aws:kms", "aws:kms:dsse"]
Checksum = Literal["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME", "none"]
# The StorageClass enum of S3's PutObject in botocore's service model.
StorageClass = Literal[
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
    "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
]


class SecurityLake(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``security_lake = { account_id, region, sources }``: where Security Lake reads each class."""

    account_id: str  # the AWS account the data is about: the accountId= partition
    region: str  # the AWS Region the data is about: the region= partition
    sources: dict[str, str]  # OCSF class_uid ("3002", "3001") -> the custom source's location under ext/

    def __post_init__(self) -> None:
        if not ACCOUNT_ID.fullmatch(self.account_id):
            raise ValueError(f"security_lake.account_id: {self.account_id!r} is not an AWS account id (12 digits)")
        if not REGION.fullmatch(self.region):
            raise ValueError(f"security_lake.region: {self.region!r} is not an AWS Region name (e.g. us-east-1)")
        if not self.sources:
            raise ValueError("security_lake.sources: name the custom source of at least one class, e.g. { \"3002\" = \"authlog_auth\" }")
        for class_uid, source in self.sources.items():
            if class_uid not in SECURITY_LAKE_CLASSES:
                raise ValueError(
                    f"security_lake.sources: {class_uid!r} is not a class this sink writes; use "
                    + " or ".join(f'"{c}" ({n})' for c, n in SECURITY_LAKE_CLASSES.items())
                )
            name, _, version = source.partition("/")
            if not SOURCE_NAME.fullmatch(name) or (version and not SOURCE_VERSION.fullmatch(version)):
                raise ValueError(
                    f"security_lake.sources.{class_uid}: {source!r} is not a custom source name (1-{MAX_SOURCE_NAME} "
                    "characters: letters, digits, '_', '-', '.'), optionally followed by '/<source version>'"
                )


class S3Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys of ``[sinks.<name>]`` with ``type = "s3"`` (credentials come from boto3's usual chain)."""

    bucket: str
    region: str | None = None  # None: boto3's chain (AWS_REGION, the profile, us-east-1)
    endpoint_url: str | None = None  # S3-compatible stores (MinIO, R2...) and local tests
    prefix: str = ""  # key prefix; a trailing '/' is added when missing
    format: Format = "ndjson"  # archive lines, OCSF lines (Authentication / Account Change), or OCSF Parquet for Security Lake
    partition_by: list[Literal["tenant"]] = msgspec.field(default_factory=list)
    sse: Sse | None = None  # server-side encryption; None: the bucket's default encryption
    kms_key_id: str | None = None  # with sse = "aws:kms": the key; None: the AWS managed key aws/s3
    storage_class: StorageClass | None = None  # None: the bucket's default (STANDARD)
    checksum: Checksum = "CRC32"  # "none" sends no checksum (for stores that reject the header)
    force_path_style: bool = False  # https://host/bucket/key instead of https://bucket.host/key
    service_name: str | None = None  # OCSF formats (required there): service.name, the app users sign in to
    security_lake: SecurityLake | None = None  # format = "ocsf-parquet" (required there): the custom sources
    request_timeout: Duration = Duration(DEFAULT_REQUEST_TIMEOUT)  # one PutObject (connect at most 10 s of it)
    gzip_level: int | None = None  # None: ISA-L's fast gzip (adapters.compression); 1-9: zlib's level, smaller for more CPU

    def __post_init__(self) -> None:
        if not self.bucket.startswith("arn:") and not BUCKET_NAME.match(self.bucket):
            raise ValueError(
                f"bucket: {self.bucket!r} is not a bucket name (3-63 characters: a-z, 0-9, '.', '-') or an access point ARN"
            )
        if self.endpoint_url is not None and not self.endpoint_url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint_url: {self.endpoint_url!r} must start with http:// or https://")
        if self.prefix.startswith("/"):
            raise ValueError("prefix: S3 keys do not start with '/'; write e.g. 'authlog/'")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        if self.kms_key_id is not None and self.sse not in ("aws:kms", "aws:kms:dsse"):
            raise ValueError("kms_key_id: only used with sse = \"aws:kms\"; set sse or remove kms_key_id")
        if self.request_timeout <= 0:
            raise ValueError("request_timeout: must be more than 0 seconds")
        if self.gzip_level is not None and not MIN_ZLIB_LEVEL <= self.gzip_level <= MAX_ZLIB_LEVEL:
            raise ValueError(
                f"gzip_level: {self.gzip_level} is not a gzip level; use {MIN_ZLIB_LEVEL} (least CPU) to "
                f"{MAX_ZLIB_LEVEL} (smallest objects), or leave it out for the fast default"
            )
        self._check_format()
        if self.checksum in CRT_CHECKSUMS and importlib.util.find_spec("awscrt") is None:
            raise ValueError(f"checksum: {self.checksum} needs the awscrt package (pip install awscrt); or use CRC32")

    def _check_format(self) -> None:
        """The keys an OCSF format needs, and the ones Security Lake's layout rules out."""
        if self.format in OCSF_FORMATS and not self.service_name:
            raise ValueError(
                f"service_name: required with format = \"{self.format}\": the application users sign in to "
                "(OCSF service.name), e.g. service_name = \"shop\""
            )
        if self.format != PARQUET:
            if self.security_lake is not None:
                raise ValueError("security_lake: only used with format = \"ocsf-parquet\"")
            return
        if self.security_lake is None:
            raise ValueError(
                "security_lake: required with format = \"ocsf-parquet\": "
                "{ account_id = \"123456789012\", region = \"us-east-1\", sources = { \"3002\" = \"...\" } }"
            )
        if self.partition_by:
            raise ValueError(
                "partition_by: not used with format = \"ocsf-parquet\": Security Lake fixes the layout "
                "(ext/<source>/region=/accountId=/eventDay=); remove partition_by"
            )
        if importlib.util.find_spec("pyarrow") is None:
            raise ValueError("format: ocsf-parquet needs pyarrow (pip install 'authlog-shipper[parquet]')")
