"""The generic adapter contract suite, run against the Datadog adapter."""

from __future__ import annotations

import pytest
from datadog_testkit import KEY

from adapters.datadog import DatadogAdapter, DatadogConfig
from shippers.config import Duration
from shippers.testing.contract import AdapterContract, closed_port, contract_context


def _adapter(**keys: object) -> DatadogAdapter:
    config = DatadogConfig(**{"api_key": KEY, "hostname": "web-1", "request_timeout": Duration(2.0), **keys})  # type: ignore[arg-type]
    return DatadogAdapter(contract_context("dd"), config)


class TestDatadogContract(AdapterContract):
    """Purity, limits and never-raise rules of adapters.contract, held against DatadogAdapter."""

    @pytest.fixture
    def adapter(self) -> DatadogAdapter:
        return _adapter(env="test", tags=["team:security"], status_by_type={"user.locked": "error"})

    @pytest.fixture
    def unreachable_adapter(self) -> DatadogAdapter:
        return _adapter(endpoint=f"http://127.0.0.1:{closed_port()}")
