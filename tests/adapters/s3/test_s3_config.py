"""The s3 sink's keys: defaults, normalisation and errors that name the key."""

from __future__ import annotations

import pytest
from s3_testkit import s3_config

from adapters.s3 import S3Adapter
from adapters.s3.config import BATCH_DEFAULTS, HARD_LIMITS
from shippers.config import config_from_dict
from shippers.errors import ConfigError


def _problems(**keys: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"sinks": {"archive": {"type": "s3", **keys}}})
    return caught.value.problems


def test_defaults_are_the_documented_ones() -> None:
    """Only bucket is required; everything else defaults as the README table says."""
    config = s3_config()
    assert (config.bucket, config.region, config.endpoint_url, config.prefix) == ("auth-logs", None, None, "")
    assert (config.format, config.partition_by, config.sse, config.kms_key_id) == ("ndjson", [], None, None)
    assert (config.storage_class, config.checksum, config.force_path_style) == (None, "CRC32", False)
    assert config.gzip_level is None


def test_batch_defaults_follow_the_issue() -> None:
    """10 MiB uncompressed, 100,000 events or 60 s, within a single-PUT hard limit."""
    assert (BATCH_DEFAULTS.max_bytes, BATCH_DEFAULTS.max_events, BATCH_DEFAULTS.timeout) == (10 * 1024 * 1024, 100_000, 60.0)
    assert HARD_LIMITS.max_bytes >= BATCH_DEFAULTS.max_bytes and HARD_LIMITS.max_events >= BATCH_DEFAULTS.max_events
    assert S3Adapter.batch_defaults is BATCH_DEFAULTS and S3Adapter.hard_limits is HARD_LIMITS


def test_prefix_gets_a_trailing_slash() -> None:
    """A prefix names a folder, so 'authlog' becomes 'authlog/' (and '' stays '')."""
    assert s3_config(prefix="authlog").prefix == "authlog/"
    assert s3_config(prefix="a/b/").prefix == "a/b/"
    assert s3_config(prefix="").prefix == ""


@pytest.mark.parametrize(
    ("keys", "needle"),
    [
        ({}, "sinks.archive.bucket: required"),
        ({"bucket": "a b"}, "bucket: 'a b' is not a bucket name"),
        ({"bucket": "ab"}, "is not a bucket name"),
        ({"bucket": "x-logs", "prefix": "/logs/"}, "prefix: S3 keys do not start with '/'"),
        ({"bucket": "x-logs", "kms_key_id": "alias/k"}, "kms_key_id: only used with sse"),
        ({"bucket": "x-logs", "sse": "AES512"}, "sinks.archive.sse"),
        ({"bucket": "x-logs", "format": "parquet"}, "sinks.archive.format"),
        ({"bucket": "x-logs", "partition_by": ["user"]}, "sinks.archive.partition_by"),
        ({"bucket": "x-logs", "storage_class": "COLD"}, "sinks.archive.storage_class"),
        ({"bucket": "x-logs", "checksum": "MD4"}, "sinks.archive.checksum"),
        ({"bucket": "x-logs", "gzip_level": 0}, "gzip_level: 0 is not a gzip level; use 1 (least CPU) to 9 (smallest objects), or leave it out"),
        ({"bucket": "x-logs", "gzip_level": 10}, "gzip_level: 10 is not a gzip level"),
        ({"bucket": "x-logs", "endpoint_url": "127.0.0.1:9000"}, "endpoint_url: '127.0.0.1:9000' must start with http"),
        ({"bucket": "x-logs", "bukcet": "y"}, "sinks.archive.bukcet: unknown key (did you mean 'bucket'?)"),
    ],
)
def test_bad_values_are_errors_naming_the_key(keys: dict[str, object], needle: str) -> None:
    """Each impossible value is reported with its key path."""
    problems = _problems(**keys)
    assert any(needle in p for p in problems), problems


def test_every_key_is_accepted_together() -> None:
    """A full config (as in examples/s3.toml) loads."""
    config = s3_config(
        region="eu-west-1", endpoint_url="https://s3.eu-west-1.amazonaws.com", prefix="authlog/", format="ocsf",
        partition_by=["tenant"], sse="aws:kms", kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/k", storage_class="STANDARD_IA",
        checksum="none", force_path_style=True, service_name="shop",
    )
    assert config.sse == "aws:kms" and config.checksum == "none" and config.service_name == "shop"
