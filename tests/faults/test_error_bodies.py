"""A 429 or 503 from whatever stands in front of a destination (a proxy's HTML page, a gateway's
``{"error": "..."}``, an empty body, JSON that is not an object) is a retry that keeps its Retry-After,
for every HTTP adapter: ``send`` never raises, whatever the body looks like."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.contract import Adapter, Verdict
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
# Why: a generous bound for the sink's first setup attempt to show in status; a polling step.
STATUS_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.01


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



def send_one_and_close(sink: Adapter) -> Verdict:
    """The verdict on sending one fresh login event through ``sink``, which is closed afterwards."""
    event = full_event("login.completed", now=time.time(), time=None)
    request = request_for(sink, [event], key=sink.object_key(sink.partition(event), 1, 1))
    try:
        return sink.send(request)
    finally:
        sink.close()

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
        verdict = send_one_and_close(sink)
    assert (verdict.kind, verdict.retry_after) == ("retry", RETRY_AFTER_SECONDS), verdict


# -- a proxy's whole HTML page is never quoted whole in a reason ------------------------------------

# Why: 50 KiB, the size of a real proxy's branded error page; the reason must carry only its gist.
PAGE = (b"<!DOCTYPE html>\n<html>\n  <head><title>502 Bad Gateway</title></head>\n  <body>\n"
        + b"    <p>The   upstream\tserver is unavailable.</p>\n" * 1100 + b"  </body>\n</html>\n")
# Why: what a status line or a log line can hold and still be read; the quoted part is capped at 200.
MAX_REASON_CHARS = 600
# Why: S3's last-resort reason adds ~300 characters of what to check to the quoted code and message.
MAX_S3_REASON_CHARS = 1000
HTML = {"Content-Type": "text/html", "X-Elastic-Product": "Elasticsearch"}


def _says_what_came_back(reason: str) -> None:
    assert len(reason) <= MAX_REASON_CHARS, (len(reason), reason[:300])
    assert "Bad Gateway" in reason, reason
    assert "\n" not in reason and "  " not in reason, reason  # whitespace folded


@pytest.mark.parametrize("status", [400, 403, 502])
def test_elasticsearch_setup_reason_quotes_a_proxy_page_briefly(status: int) -> None:
    """A 50 KiB HTML page answering the index-template PUT gives a setup reason under 600 characters naming the content type and the page's start."""
    assert len(PAGE) > 50 * 1024
    with ScriptedHTTPServer(Answer(status, HTML, PAGE)) as server:
        sink = build("elasticsearch", server.url)
        try:
            verdict = sink.open()
        finally:
            sink.close()
    assert verdict is not None and verdict.kind in ("retry", "sink_error")
    _says_what_came_back(verdict.reason)
    assert "text/html" in verdict.reason and str(len(PAGE)) in verdict.reason, verdict.reason


@pytest.mark.parametrize(("adapter", "status", "content_type"), [
    ("elasticsearch", 502, "text/html"), ("elasticsearch", 403, "text/html"), ("elasticsearch", 200, "application/json"),
    ("elasticsearch", 200, "text/html"), ("datadog", 502, "text/html"), ("datadog", 403, "text/html"),
    ("datadog", 400, "text/html"),
])
def test_a_send_reason_quotes_a_proxy_page_briefly(adapter: str, status: int, content_type: str) -> None:
    """A 50 KiB HTML page answering a send (even with a 2xx or a JSON content type) gives a short reason that says what came back."""
    with ScriptedHTTPServer(Answer(status, {**HTML, "Content-Type": content_type}, PAGE)) as server:
        config = config_from_dict({"sinks": {"sink": {**sink_for(adapter, server.url), **({"setup": False} if adapter == "elasticsearch" else {})}}})
        sink = build_adapters(config.sinks.values(), builtin_catalog(), time.time, "store0000001")["sink"]
        verdict = send_one_and_close(sink)
    assert verdict.kind != "delivered"
    for reason in [verdict.reason, *(item.reason for item in verdict.items)]:
        _says_what_came_back(reason)


def test_elasticsearch_status_shows_a_short_setup_reason(make_shipper: Any) -> None:
    """Through the whole pipeline, a proxy's 50 KiB page refusing the template leaves a short lastError in status()."""
    with ScriptedHTTPServer(Answer(403, HTML, PAGE)) as server:
        shipper = make_shipper({"search": {"type": "elasticsearch", "hosts": [server.url], "index": "authlog-page",
                                           "retry": {"initial": "10ms", "max": "50ms"}}})
        deadline = time.monotonic() + STATUS_TIMEOUT_SECONDS
        while (error := shipper.status()["sinks"]["search"]["lastError"]) is None:
            assert time.monotonic() < deadline, "the sink never reported its setup failure"
            time.sleep(POLL_SECONDS)
    _says_what_came_back(error)
    assert "index template" in error and "text/html" in error, error


@pytest.mark.parametrize("status", [400, 403, 502])
def test_an_s3_error_with_a_huge_code_and_message_gives_a_short_reason(status: int) -> None:
    """An S3-shaped XML error whose Code and Message are each 50 KiB (a hostile or broken store) gives a reason under 1000 characters."""
    huge = b"Bad Gateway " + b"x  \n" * (12 * 1024)
    xml = b"<?xml version='1.0'?><Error><Code>" + huge + b"</Code><Message>" + huge + b"</Message></Error>"
    with ScriptedHTTPServer(Answer(status, {"Content-Type": "application/xml"}, xml)) as server:
        sink = build("s3", server.url)
        verdict = send_one_and_close(sink)
    assert verdict.kind != "delivered"
    assert len(verdict.reason) <= MAX_S3_REASON_CHARS, (len(verdict.reason), verdict.reason[:300])
