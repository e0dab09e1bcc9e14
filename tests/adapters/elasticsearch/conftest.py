"""Fixtures of the Elasticsearch adapter tests: one local Elasticsearch and one OpenSearch per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shippers.testing.fake_elasticsearch import FakeElasticsearch


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


@pytest.fixture(params=["elasticsearch", "opensearch"])
def cluster(request: pytest.FixtureRequest, es: FakeElasticsearch, opensearch: FakeElasticsearch) -> FakeElasticsearch:
    """Each flavor in turn (the adapter's flavor key must match the returned server's flavor)."""
    return es if request.param == "elasticsearch" else opensearch
