"""The counting S3 endpoint, driven by real boto3 and by the shipper's s3 sink (NDJSON and OCSF)."""

from __future__ import annotations

import gzip
from functools import partial
from pathlib import Path

import boto3
import pytest
from bench_testkit import ship_samples
from botocore.config import Config

from bench.endpoints.process import Endpoint
from bench.endpoints.s3 import start_s3

BUCKET = "bench-archive"
START = partial(start_s3, buckets=(BUCKET,))


def test_put_object_with_if_none_match_is_stored_once_and_a_second_put_is_a_412(endpoint: Endpoint) -> None:
    """boto3's PutObject (CRC32 checksum, IfNoneMatch="*") gets 200 + ETag; the same key again is 412; HEAD gives the metadata."""
    client = boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1",
                          config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))  # fmt: skip
    body = gzip.compress(b'{"id": "e1"}\n{"id": "e2"}\n{"metadata": {"uid": "e3"}}\n')
    put = {"Bucket": BUCKET, "Key": "k/1.ndjson.gz", "Body": body, "ContentEncoding": "gzip", "IfNoneMatch": "*",
           "Metadata": {"authlog-batch": "tag-1"}, "ChecksumAlgorithm": "CRC32"}  # fmt: skip
    answer = client.put_object(**put)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200 and answer["ETag"].startswith('"')
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.put_object(**put)
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    head = client.head_object(Bucket=BUCKET, Key="k/1.ndjson.gz")
    assert head["Metadata"] == {"authlog-batch": "tag-1"} and head["ContentLength"] == len(body)
    counted = endpoint.count()
    assert (counted.events, counted.distinct, counted.refused, counted.objects) == (3, 3, 1, 1)


def test_an_overwrite_without_a_precondition_replaces_the_events_it_held(endpoint: Endpoint) -> None:
    """Two PUTs to one key without IfNoneMatch leave only the second object's events counted."""
    client = boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1")
    client.put_object(Bucket=BUCKET, Key="k", Body=b'{"id": "a"}\n{"id": "b"}\n')
    client.put_object(Bucket=BUCKET, Key="k", Body=b'{"id": "b"}\n')
    counted = endpoint.count()
    assert (counted.events, counted.distinct, counted.objects) == (1, 1, 1)


@pytest.mark.parametrize("format_", ["ndjson", "ocsf", "ocsf-parquet"])
def test_the_shippers_s3_sink_delivers_into_it_exactly_once(endpoint: Endpoint, tmp_path: Path, format_: str) -> None:
    """The real adapter (gzip NDJSON, OCSF or OCSF Parquet, IfNoneMatch, checksum) gets 200 + ETag: 30 delivered, 30 ids counted."""
    sink: dict[str, object] = {"type": "s3", "bucket": BUCKET, "endpoint_url": endpoint.url, "region": "us-east-1", "format": format_}
    if format_ != "ndjson":
        sink["service_name"] = "shop"
    if format_ == "ocsf-parquet":
        sink["security_lake"] = {"account_id": "123456789012", "region": "us-east-1", "sources": {"3002": "a", "3001": "b"}}
    status = ship_samples(tmp_path, sink, 30)
    assert (status["delivered"], status["deadLettered"]) == (30, 0)
    assert endpoint.count().exactly_once(30)


def test_a_put_into_a_bucket_that_does_not_exist_is_no_such_bucket(endpoint: Endpoint) -> None:
    """As S3 answers: 404 NoSuchBucket, nothing counted."""
    client = boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1")
    with pytest.raises(client.exceptions.NoSuchBucket):
        client.put_object(Bucket="missing-bucket", Key="k", Body=b'{"id": "a"}\n')
    assert endpoint.count().events == 0
