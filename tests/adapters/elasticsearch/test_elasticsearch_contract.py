"""The generic adapter contract suite, run against the Elasticsearch adapter (both flavors)."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from adapters.elasticsearch import ElasticsearchAdapter, ElasticsearchConfig
from shippers.testing.contract import AdapterContract, closed_port, contract_context


def build(**keys: object) -> ElasticsearchAdapter:
    config = msgspec.convert(keys, ElasticsearchConfig)
    return ElasticsearchAdapter(contract_context("search"), config)


class TestElasticsearchContract(AdapterContract):
    @pytest.fixture(params=["elasticsearch", "opensearch"])
    def adapter(self, request: pytest.FixtureRequest) -> Iterator[ElasticsearchAdapter]:
        adapter = build(hosts=["http://127.0.0.1:9200"], flavor=request.param, data_stream="logs-authlog-default")
        yield adapter
        adapter.close()

    @pytest.fixture(params=["elasticsearch", "opensearch"])
    def unreachable_adapter(self, request: pytest.FixtureRequest) -> Iterator[ElasticsearchAdapter]:
        adapter = build(hosts=[f"http://127.0.0.1:{closed_port()}"], flavor=request.param)
        yield adapter
        adapter.close()
