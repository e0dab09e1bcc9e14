"""The generic adapter contract suite, run against the cloud_logging adapter."""

from __future__ import annotations

import msgspec
import pytest

from adapters.cloud_logging import CloudLoggingAdapter, CloudLoggingConfig
from shippers.testing.contract import AdapterContract, closed_port, contract_context


def _adapter(endpoint: str) -> CloudLoggingAdapter:
    config = msgspec.convert({"project": "contract-project", "endpoint": endpoint}, CloudLoggingConfig)
    return CloudLoggingAdapter(contract_context("gcl"), config)


class TestCloudLoggingContract(AdapterContract):
    """Purity, limits and never-raise rules for cloud_logging."""

    @pytest.fixture
    def adapter(self) -> CloudLoggingAdapter:
        return _adapter("http://127.0.0.1:9500")

    @pytest.fixture
    def unreachable_adapter(self) -> CloudLoggingAdapter:
        return _adapter(f"http://127.0.0.1:{closed_port()}")
