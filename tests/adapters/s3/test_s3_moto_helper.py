"""The shipped S3 stand-in helpers: MotoS3 and its fault injector behave as documented."""

from __future__ import annotations

import gzip

import pytest
from botocore.exceptions import ClientError

from shippers.testing.moto_s3 import MotoS3


def test_faults_hit_object_puts_only(s3: MotoS3, bucket: str) -> None:
    """Bucket creation and reads pass while an object-PUT fault is queued; the PUT gets the fault."""
    assert s3.faults is not None
    s3.faults.fail_next(1, status=503, code="SlowDown")
    s3.make_bucket(bucket + "-x")  # PUT /<bucket> is not an object write
    assert s3.keys(bucket) == []
    client = s3.client()
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "SlowDown"
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.keys(bucket) == ["k"]


def test_sticky_fault_until_clear(s3: MotoS3, bucket: str) -> None:
    """n=None repeats the fault on every object PUT until clear()."""
    assert s3.faults is not None
    s3.faults.fail_next(None, status=403, code="AccessDenied")
    client = s3.client()
    for _ in range(3):
        with pytest.raises(ClientError):
            client.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.faults.clear()
    client.put_object(Bucket=bucket, Key="k", Body=b"x")


def test_lost_answer_still_stores_the_object(s3: MotoS3, bucket: str) -> None:
    """lose_answers forwards the write, then answers 500: the object is there although the client saw an error."""
    assert s3.faults is not None
    s3.faults.lose_answers(1)
    with pytest.raises(ClientError) as caught:
        s3.client().put_object(Bucket=bucket, Key="lost", Body=gzip.compress(b'{"id":"1"}\n'))
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert s3.read_lines(bucket) == {"lost": [{"id": "1"}]}


def test_a_second_server_can_be_started_and_stopped() -> None:
    """MotoS3 binds a free loopback port and releases it on stop."""
    with MotoS3() as other:
        assert other.url.startswith("http://127.0.0.1:") and other.port > 0
        other.make_bucket("helper-check")
        assert "helper-check" in [b["Name"] for b in other.client().list_buckets()["Buckets"]]
