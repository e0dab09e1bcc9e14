"""A 429 or 503 from whatever stands in front of a destination (a proxy's HTML page, a gateway's
``{"error": "..."}``, an empty body, JSON that is not an object) is a retry that keeps its Retry-After,
for every HTTP adapter: ``send`` never raises, whatever the body looks like."""

from __future__ import annotations

import time

import pytest

from adapters.contract import Adapter
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.plugins import build_adapters
from shippers.testing.events import full_event, request_for
from shippers.testing.scripted_http import Answer, ScriptedHTTPServer

RETRY_AFTER_SECONDS = 7
BODIES = {
    "proxy-html": ("text/html", b"<html><body><h1>429 Too Many Requests</h1></body></html>"),
    "gateway-json-string": ("application/json", b'{"error": "rate limited"}'),
    "json-list": ("application/json", b'["rate limited"]'),
    "json-null": ("application/json", b"null"),
    "empty": ("text/plain", b""),
}
ADAPTERS = ("elasticsearch", "s3", "datadog", "cloud_logging")


def sink_for(adapter: str, url: str) -> dict[str, object]:
    return {
        "elasticsearch": {"type": "elasticsearch", "hosts": [url], "index": "authlog-bodies"},
        "s3": {"type": "s3", "bucket": "authlog-bodies", "endpoint_url": url, "region": "us-east-1"},
        "datadog": {"type": "datadog", "api_key": "dd-test-key-0123456789abcdef", "endpoint": url},
        "cloud_logging": {"type": "cloud_logging", "project": "test-project", "endpoint": url},
    }[adapter]


def build(adapter: str, url: str) -> Adapter:
    config = config_from_dict({"sinks": {"sink": sink_for(adapter, url)}})
    return build_adapters(config.sinks.values(), builtin_catalog(), time.time, "store0000001")["sink"]


CASES = [
    pytest.param(adapter, status, body)
    for adapter in ADAPTERS
    for status in (429, 503)
    for body in BODIES
]


@pytest.mark.parametrize(("adapter", "status", "body"), CASES)
def test_throttle_or_outage_with_any_body_is_a_retry_that_keeps_retry_after(adapter: str, status: int, body: str) -> None:
    """This adapter reads this status with this body as a retry after exactly the Retry-After it was given."""
    content_type, payload = BODIES[body]
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Content-Type": content_type, "X-Elastic-Product": "Elasticsearch"}
    with ScriptedHTTPServer(Answer(status, headers, payload)) as server:
        sink = build(adapter, server.url)
        event = full_event("login.completed", now=time.time(), time=None)
        partition = sink.partition(event)
        request = request_for(sink, [event], key=sink.object_key(partition, 1, 1))
        try:
            verdict = sink.send(request)
        finally:
            sink.close()
    assert (verdict.kind, verdict.retry_after) == ("retry", RETRY_AFTER_SECONDS), verdict
