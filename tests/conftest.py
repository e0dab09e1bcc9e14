"""Fixtures shared by the whole suite: a fresh in-memory/chaos state and a shipper factory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shippers.shipper import Shipper
from shippers.testing import chaos, memory
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.shipper_factory import shipper_factory

# The memory and chaos test adapters are opt-in (never production plugins): this suite opts in.
pytest_plugins = ["shippers.testing.pytest_plugin"]

# boto3 must never look for real credentials or a metadata server in tests.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


class FakeSleep:
    """An injected sleep: records every wait and returns at once (no wall-clock timing in tests).

    It yields the CPU for a millisecond so a sink that fails forever in a test does not spin
    a core; no assertion depends on that pause.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(0.001)


@pytest.fixture(autouse=True)
def _fresh_test_sinks() -> Iterator[None]:
    memory.reset()
    chaos.reset()
    yield
    memory.reset()
    chaos.reset()


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_shipper(tmp_path: Path) -> Iterator[Callable[..., Shipper]]:
    """Build (and afterwards close) shippers over a buffer in tmp_path."""
    yield from shipper_factory({"path": str(tmp_path / "buffer")})


# One Elasticsearch and one OpenSearch stand-in per session, for the adapter's and the stand-in's own tests.
@pytest.fixture(scope="session")
def es_server() -> Iterator[FakeElasticsearch]:
    """A local Elasticsearch 9 stand-in for the session, on port 0."""
    with FakeElasticsearch() as server:
        yield server


@pytest.fixture(scope="session")
def os_server() -> Iterator[FakeElasticsearch]:
    """A local OpenSearch 2 stand-in for the session, on port 0."""
    with FakeElasticsearch(flavor="opensearch") as server:
        yield server


@pytest.fixture
def es(es_server: FakeElasticsearch) -> Iterator[FakeElasticsearch]:
    """The session's Elasticsearch, emptied of documents, templates, requests and faults."""
    es_server.reset()
    yield es_server
    es_server.max_content_length = 100 * 1024 * 1024


@pytest.fixture
def opensearch(os_server: FakeElasticsearch) -> Iterator[FakeElasticsearch]:
    """The session's OpenSearch, emptied."""
    os_server.reset()
    yield os_server
    os_server.max_content_length = 100 * 1024 * 1024


@pytest.fixture(scope="session")
def enrich_dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Small City and ASN databases of shippers.testing.geo_databases' test ranges: the [enrich] keys that read them."""
    from shippers.testing.geo_databases import TEST_NETWORKS, TEST_PLACES, write_asn_database, write_city_database

    folder = tmp_path_factory.mktemp("geo")
    return {
        "geoip_db": str(write_city_database(folder / "city.mmdb", TEST_PLACES)),
        "asn_db": str(write_asn_database(folder / "asn.mmdb", TEST_NETWORKS)),
    }
