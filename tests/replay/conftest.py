"""Fixtures of the replay tests: moto's S3 and the Elasticsearch stand-in for the session, an archive written by our s3 sink."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from replay_kit import ArchiveWorld, write_archive

from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.moto_s3 import CREDENTIALS, MotoS3

_names = itertools.count()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """moto's S3 on 127.0.0.1 for the session, with boto3 given test credentials."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        with MotoS3() as server:
            yield server


@pytest.fixture
def world(moto: MotoS3, es_server: FakeElasticsearch, tmp_path: Path) -> ArchiveWorld:
    """A fresh bucket and index name, and the folders of this test."""
    n = next(_names)
    bucket = f"replay-archive-{n}"
    moto.make_bucket(bucket)
    assert moto.faults is not None
    moto.faults.clear()
    return ArchiveWorld(moto, es_server, bucket, f"authlog-replay-{n}", tmp_path)


@pytest.fixture
def archive(world: ArchiveWorld) -> Callable[..., list[dict[str, Any]]]:
    """Write wire events through our own s3 sink into the world's bucket; returns the events as sent."""

    def write(events: list[dict[str, Any]], **sink: Any) -> list[dict[str, Any]]:
        return write_archive(world, events, **sink)

    return write
