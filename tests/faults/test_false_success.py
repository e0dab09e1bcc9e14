"""False success: a 2xx that is not the destination's documented success never acknowledges events.

Each answer below travels over a real loopback socket through the destination's real SDK
client (the stand-in's ``answer_next`` or :class:`~shippers.testing.scripted_http.ScriptedHTTPServer`),
so the transport and the classifier are tested together, the way they run. The documented
successes: Cloud Logging ``entries.write`` is ``200 {}``; Datadog ``POST /api/v2/logs`` is
``202``; S3 ``PutObject`` is ``200`` with an ``ETag``; Elasticsearch ``_bulk`` is ``200`` with
``errors`` and one status per item.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.contract import Adapter
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.plugins import build_adapters
from shippers.shipper import Shipper
from shippers.testing.events import FIXED_NOW, full_event, request_for
from shippers.testing.fake_cloud_logging import FakeCloudLogging
from shippers.testing.scripted_http import Answer, ScriptedHTTPServer

PROJECT = "test-project"
JSON = {"Content-Type": "application/json"}
# Producer text that an answer might echo back; it must never reach a Verdict reason.
SECRET_USER = "u-echoed-secret-4711"


def build(kind: str, **keys: Any) -> Adapter:
    """One adapter of type ``kind`` for sink "s", through the real config loader and plugin lookup."""
    config = config_from_dict({"sinks": {"s": {"type": kind, **keys}}})
    return build_adapters(config.sinks.values(), builtin_catalog(), lambda: FIXED_NOW)["s"]


def send_one(adapter: Adapter, n: int = 2) -> Any:
    events = [full_event("login.completed", id=f"e-{i}", userId=SECRET_USER) for i in range(n)]
    key = adapter.object_key(adapter.partition(events[0]), 1, n)
    return adapter.send(request_for(adapter, events, key=key))


@pytest.fixture(scope="module")
def gcl_server() -> Iterator[FakeCloudLogging]:
    with FakeCloudLogging(projects=(PROJECT,), clock=lambda: FIXED_NOW) as fake:
        yield fake


@pytest.fixture
def gcl(gcl_server: FakeCloudLogging) -> FakeCloudLogging:
    gcl_server.reset()
    return gcl_server


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[ScriptedHTTPServer]:
    with ScriptedHTTPServer(Answer(500, {"Content-Type": "text/plain"}, b"nothing scripted")) as server:
        yield server


@pytest.fixture
def scripted(scripted_server: ScriptedHTTPServer) -> ScriptedHTTPServer:
    scripted_server.reset()
    return scripted_server


# -- Cloud Logging -----------------------------------------------------------------------------

_ECHOING_ERROR = {"error": {"code": 503, "status": "UNAVAILABLE", "message": f"could not write entry for {SECRET_USER}"}}
GCL_FALSE_SUCCESSES = [
    pytest.param(204, b"", {}, "HTTP 204", id="204-empty"),
    pytest.param(200, b"", {}, "empty body", id="200-empty"),
    pytest.param(200, json.dumps(_ECHOING_ERROR).encode(), JSON, "an error object (UNAVAILABLE)", id="200-with-error"),
    pytest.param(200, b"<html>Welcome</html>", {"Content-Type": "text/html"}, "not JSON", id="200-html"),
    pytest.param(200, b"[]", JSON, "not the empty object", id="200-json-array"),
    pytest.param(200, json.dumps({"entries": [{"user": SECRET_USER}]}).encode(), JSON, "keys: entries", id="200-echo"),
    pytest.param(201, b"{}", JSON, "HTTP 201", id="201-empty-object"),
    pytest.param(202, b"{}", JSON, "HTTP 202", id="202-empty-object"),
]


@pytest.mark.parametrize(("status", "body", "headers", "named"), GCL_FALSE_SUCCESSES)
def test_cloud_logging_2xx_that_is_not_200_empty_object_is_not_delivered(
    gcl: FakeCloudLogging, status: int, body: bytes, headers: dict[str, str], named: str
) -> None:
    """A 204, an empty or non-JSON 200, a 200 carrying an error or another body, or a 201/202 keeps the entries (sink_error) with a reason naming what came back and no producer text."""
    gcl.answer_next(status, body, headers)
    verdict = send_one(build("cloud_logging", project=PROJECT, endpoint=gcl.url))
    assert verdict.kind == "sink_error", verdict
    assert named in verdict.reason and "sinks.s.endpoint" in verdict.reason
    assert SECRET_USER not in verdict.reason
    assert gcl.entries() == [] and [r.status for r in gcl.requests()] == [status]


def test_cloud_logging_200_empty_object_is_delivered(gcl: FakeCloudLogging) -> None:
    """The documented success, 200 with {}, still acknowledges the entries (and the stand-in stored them)."""
    verdict = send_one(build("cloud_logging", project=PROJECT, endpoint=gcl.url))
    assert verdict.kind == "delivered"
    assert sorted(gcl.by_insert_id()) == ["e-0", "e-1"]


def test_cloud_logging_reason_caps_a_long_junk_body(gcl: FakeCloudLogging) -> None:
    """A long non-JSON 2xx body is quoted only briefly in the reason."""
    gcl.answer_next(200, b"<html>" + b"x" * 100_000, {"Content-Type": "text/html"})
    verdict = send_one(build("cloud_logging", project=PROJECT, endpoint=gcl.url))
    assert verdict.kind == "sink_error" and len(verdict.reason) < 1000


def test_cloud_logging_204_through_the_pipeline_loses_nothing(
    make_shipper: Callable[..., Shipper], fake_sleep: Callable[[float], None]
) -> None:
    """Through the whole pipeline two 204s are not counted delivered: every event arrives once the real API answers, none dead-lettered."""
    with FakeCloudLogging(projects=(PROJECT,)) as live:  # the wall clock, like the shipper's event stamps
        live.answer_next(204, n=2)
        sink = {"type": "cloud_logging", "project": PROJECT, "endpoint": live.url, "retry": {"initial": "10ms", "max": "50ms"}}
        shipper = make_shipper({"gcl": sink}, sleep=fake_sleep)
        for i in range(20):
            shipper.emit("login.completed", id=f"p-{i}")
        assert shipper.flush(30)
        assert sorted(live.by_insert_id()) == sorted(f"p-{i}" for i in range(20))
        assert [r.status for r in live.requests()][:2] == [204, 204]
    status = shipper.status()["sinks"]["gcl"]
    assert (status["delivered"], status["deadLettered"]) == (20, 0)


# -- Datadog -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        pytest.param(Answer(200, JSON, b"{}"), "HTTP 200", id="200"),
        pytest.param(Answer(200, {"Content-Type": "text/html"}, b"<html>portal</html>"), "HTTP 200", id="200-html"),
        pytest.param(Answer(204), "HTTP 204", id="204"),
        pytest.param(Answer(201, JSON, b"{}"), "HTTP 201", id="201"),
    ],
)
def test_datadog_2xx_other_than_202_is_not_delivered(scripted: ScriptedHTTPServer, answer: Answer, named: str) -> None:
    """The Logs intake answers 202; any other 2xx (a proxy, a v1 endpoint) keeps the logs as a sink_error naming the status."""
    scripted.answer = answer
    verdict = send_one(build("datadog", api_key="k" * 32, endpoint=scripted.url))
    assert verdict.kind == "sink_error", verdict
    assert named in verdict.reason and "202" in verdict.reason
    assert len(scripted.requests) == 1


def test_datadog_202_is_delivered(scripted: ScriptedHTTPServer) -> None:
    """The documented success, 202, acknowledges the logs."""
    scripted.answer = Answer(202, JSON, b"{}")
    assert send_one(build("datadog", api_key="k" * 32, endpoint=scripted.url)).kind == "delivered"


# -- S3 ------------------------------------------------------------------------------------------


def _s3(server: ScriptedHTTPServer) -> Adapter:
    return build("s3", bucket="auth-logs", endpoint_url=server.url, region="us-east-1", force_path_style=True)


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        pytest.param(Answer(200), "HTTP 200 without an ETag", id="200-without-etag"),
        pytest.param(Answer(200, {"Content-Type": "text/html"}, b"<html>portal</html>"), "HTTP 200 without an ETag", id="200-html"),
        pytest.param(Answer(204, {"ETag": '"abc"'}), "HTTP 204", id="204"),
    ],
)
def test_s3_put_without_etag_or_not_200_is_not_delivered(scripted: ScriptedHTTPServer, answer: Answer, named: str) -> None:
    """PutObject succeeds with 200 and an ETag; a 200 without one, or a 204, keeps the batch (sink_error) naming what came back."""
    scripted.queue(answer)
    verdict = send_one(_s3(scripted))
    assert verdict.kind == "sink_error", verdict
    assert named in verdict.reason and "endpoint_url" in verdict.reason
    assert [r.method for r in scripted.requests] == ["PUT"]


def test_s3_200_with_etag_is_delivered(scripted: ScriptedHTTPServer) -> None:
    """The documented success, 200 with an ETag, acknowledges the batch."""
    scripted.queue(Answer(200, {"ETag": '"0123456789abcdef0123456789abcdef"'}))
    assert send_one(_s3(scripted)).kind == "delivered"


# -- Elasticsearch (audit: already handled; these guard it) ------------------------------------------------

_PRODUCT = {"Content-Type": "application/vnd.elasticsearch+json;compatible-with=9", "X-Elastic-Product": "Elasticsearch"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b'{"acknowledged": true}', id="not-bulk"),
        pytest.param(b'{"errors": false, "items": [{"create": {}}, {"create": {}}]}', id="items-without-status"),
        pytest.param(b'{"errors": false, "items": [{"create": {"status": 201}}]}', id="too-few-items"),
    ],
)
def test_elasticsearch_200_that_is_not_a_bulk_answer_is_not_delivered(scripted: ScriptedHTTPServer, body: bytes) -> None:
    """A _bulk 200 without one 2xx status per item sent is retried (whole or item by item), never acknowledged."""
    scripted.queue(Answer(200, _PRODUCT, body))
    verdict = send_one(build("elasticsearch", hosts=[scripted.url], setup=False))
    outcomes = {i.outcome for i in verdict.items} if verdict.kind == "per_item" else {verdict.kind}
    assert outcomes == {"retry"}, verdict


def test_elasticsearch_200_with_item_errors_is_per_item(scripted: ScriptedHTTPServer) -> None:
    """A _bulk 200 with errors: true acknowledges only the items whose status is 2xx."""
    items = [{"create": {"status": 201}}, {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}}]
    scripted.queue(Answer(200, _PRODUCT, json.dumps({"errors": True, "items": items}).encode()))
    verdict = send_one(build("elasticsearch", hosts=[scripted.url], setup=False))
    assert verdict.kind == "per_item"
    assert [i.outcome for i in verdict.items] == ["delivered", "retry"]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(Answer(200, {"Content-Type": "text/html", "X-Elastic-Product": "Elasticsearch"}, b"<html>proxy</html>"), id="200-html"),
        pytest.param(Answer(200, _PRODUCT, b"{}"), id="200-empty-object"),
        pytest.param(Answer(200, _PRODUCT, b'{"acknowledged": false}'), id="200-not-acknowledged"),
    ],
)
def test_elasticsearch_template_2xx_without_acknowledged_is_not_installed(scripted: ScriptedHTTPServer, answer: Answer) -> None:
    """A template PUT answered 2xx without {"acknowledged": true} installed nothing: a sink_error, and no _bulk is sent."""
    scripted.queue(answer)
    adapter = build("elasticsearch", hosts=[scripted.url], setup=True)
    verdict = adapter.open()
    assert verdict is not None and verdict.kind == "sink_error", verdict
    assert "acknowledges a template" in verdict.reason
    assert len(scripted.requests) == 1 and "_index_template" in scripted.requests[0].path
