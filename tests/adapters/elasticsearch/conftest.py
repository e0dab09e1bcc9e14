"""Fixtures of the Elasticsearch adapter tests (the stand-ins themselves, `es` and `opensearch`, are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from shippers.testing.fake_elasticsearch import FakeElasticsearch


@pytest.fixture(params=["elasticsearch", "opensearch"])
def cluster(request: pytest.FixtureRequest, es: FakeElasticsearch, opensearch: FakeElasticsearch) -> FakeElasticsearch:
    """Each flavor in turn (the adapter's flavor key must match the returned server's flavor)."""
    return es if request.param == "elasticsearch" else opensearch
