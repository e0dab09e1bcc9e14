"""The counting entries:write endpoint, driven by the real google-cloud-logging client and by the shipper's sink."""

from __future__ import annotations

from pathlib import Path

import google.cloud.logging
import pytest
from bench_testkit import ship_samples
from google.api_core.exceptions import BadRequest
from google.auth.credentials import AnonymousCredentials

from bench.endpoints.cloud_logging import start_cloud_logging
from bench.endpoints.process import Endpoint

PROJECT = "bench-project"
START = start_cloud_logging


def client(url: str) -> google.cloud.logging.Client:
    return google.cloud.logging.Client(project=PROJECT, credentials=AnonymousCredentials(), _use_grpc=False,
                                       client_options={"api_endpoint": url})  # fmt: skip


def entry(insert_id: str) -> dict[str, object]:
    return {"logName": f"projects/{PROJECT}/logs/authlog", "resource": {"type": "global"}, "insertId": insert_id,
            "jsonPayload": {"n": 1}}  # fmt: skip


def test_write_entries_is_200_and_copies_of_an_insert_id_count_once_as_distinct(endpoint: Endpoint) -> None:
    """The client's write_entries succeeds; a repeated insertId is two entries, one distinct."""
    client(endpoint.url).logging_api.write_entries([entry("a"), entry("b"), entry("a")], partial_success=True)
    counted = endpoint.count()
    assert (counted.events, counted.distinct, counted.requests) == (3, 2, 1)


def test_an_entry_without_a_resource_is_invalid_argument(endpoint: Endpoint) -> None:
    """As the service answers: 400 INVALID_ARGUMENT, nothing counted."""
    with pytest.raises(BadRequest):
        client(endpoint.url).logging_api.write_entries([{"logName": f"projects/{PROJECT}/logs/x", "insertId": "a"}])
    assert endpoint.count().events == 0


def test_the_shippers_cloud_logging_sink_delivers_into_it_exactly_once(endpoint: Endpoint, tmp_path: Path) -> None:
    """The real adapter gets the documented 200 {}: 30 delivered, 30 entries with 30 distinct insertIds."""
    status = ship_samples(tmp_path, {"type": "cloud_logging", "project": PROJECT, "endpoint": endpoint.url}, 30)
    assert (status["delivered"], status["deadLettered"]) == (30, 0)
    assert endpoint.count().exactly_once(30)
