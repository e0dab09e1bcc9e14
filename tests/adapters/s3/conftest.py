"""Fixtures of the S3 adapter tests: test AWS credentials and one local S3 (moto) per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from s3_testkit import unique_bucket

from shippers.testing.moto_s3 import CREDENTIALS, MotoS3


@pytest.fixture(scope="session", autouse=True)
def aws_test_credentials() -> Iterator[None]:
    """boto3's chain finds fake keys and never probes an instance metadata server."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server(aws_test_credentials: None) -> Iterator[MotoS3]:
    """moto's S3 on 127.0.0.1, port 0, for the whole session."""
    with MotoS3() as server:
        yield server


@pytest.fixture
def s3(moto_server: MotoS3) -> Iterator[MotoS3]:
    """The session's S3 with no queued faults before and after the test."""
    assert moto_server.faults is not None
    moto_server.faults.clear()
    yield moto_server
    moto_server.faults.clear()


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    """A new, empty bucket for this test."""
    name = unique_bucket()
    s3.make_bucket(name)
    return name
