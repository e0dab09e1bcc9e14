"""The counting Datadog intake, driven by the real datadog-api-client and by the shipper's datadog sink."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from bench_testkit import ship_samples
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ForbiddenException
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.content_encoding import ContentEncoding
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem

from bench.endpoints.datadog import start_datadog
from bench.endpoints.process import Endpoint

KEY = "bench-key"
START = partial(start_datadog, api_key=KEY)


def submit(url: str, key: str, *ids: str) -> object:
    config = Configuration(host=url, enable_retry=False)
    config.api_key["apiKeyAuth"] = key
    with ApiClient(config) as client:
        logs = HTTPLog([HTTPLogItem(message="m", evt={"id": event_id}) for event_id in ids])
        return LogsApi(client).submit_log(body=logs, content_encoding=ContentEncoding.GZIP)


def test_a_gzip_submission_is_accepted_and_a_resent_log_counts_twice_under_one_id(endpoint: Endpoint) -> None:
    """202 {} for a gzip array; Datadog keeps no ids, so a repeated evt.id is 2 events, 1 distinct."""
    assert submit(endpoint.url, KEY, "a", "a", "b") == {}
    counted = endpoint.count()
    assert (counted.events, counted.distinct, counted.requests) == (3, 2, 1)
    assert not counted.exactly_once(2)


def test_a_wrong_key_is_forbidden_and_not_counted(endpoint: Endpoint) -> None:
    """The intake's 403 for a key it does not know; nothing is counted."""
    with pytest.raises(ForbiddenException):
        submit(endpoint.url, "wrong", "a")
    assert endpoint.count().events == 0


def test_the_shippers_datadog_sink_delivers_into_it_exactly_once(endpoint: Endpoint, tmp_path: Path) -> None:
    """The real adapter gets the documented 202: 30 delivered, 30 logs with 30 distinct evt.ids."""
    status = ship_samples(tmp_path, {"type": "datadog", "api_key": KEY, "endpoint": endpoint.url, "hostname": "bench"}, 30)
    assert (status["delivered"], status["deadLettered"]) == (30, 0)
    assert endpoint.count().exactly_once(30)
