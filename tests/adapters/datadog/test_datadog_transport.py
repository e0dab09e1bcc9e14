"""The Datadog transport and adapter send path, driving the real datadog-api-client against the local intake."""

from __future__ import annotations

import gzip
import json
import logging
import socket
from collections.abc import Iterator

import pytest
from datadog_testkit import FIXED, KEY, every_type_and_reason, full_event, make_adapter, make_request

from adapters.datadog.config import AUTH_RETRY_AFTER_SECONDS, MAX_PAST_SECONDS
from adapters.datadog.encoder import body_bytes
from adapters.datadog.transport import DatadogTransport
from shippers.testing.fake_datadog import FakeDatadog
from shippers.testing.scripted_http import Answer, ScriptedHTTPServer


def every_event() -> list:
    return [full_event(t, r) for t, r in every_type_and_reason()]


def test_one_request_gzipped_with_the_key_header(intake: FakeDatadog) -> None:
    """One send is one gzipped POST carrying the right DD-API-KEY, whose uncompressed size is what we counted."""
    adapter = make_adapter(endpoint=intake.url)
    request = make_request(adapter, every_event())
    assert adapter.send(request).kind == "delivered"
    (sent,) = intake.requests()
    assert (sent.status, sent.api_key_sent, sent.api_key_ok, sent.content_encoding) == (202, True, True, "gzip")
    assert sent.item_count == len(request.items) == 27
    assert sent.uncompressed_bytes == body_bytes(request.items)
    assert sent.wire_bytes is not None and sent.wire_bytes < sent.uncompressed_bytes
    assert intake.items() == [json.loads(doc) for doc in request.docs]


def test_wrong_key_is_a_sink_error_that_never_shows_the_key(intake: FakeDatadog) -> None:
    """A key the intake refuses gives sink_error 'check the API key' with the long pause, and the key is nowhere in it."""
    adapter = make_adapter(endpoint=intake.url, api_key="wrong-" + KEY)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert (verdict.kind, verdict.retry_after) == ("sink_error", AUTH_RETRY_AFTER_SECONDS)
    assert "check the API key" in verdict.reason and KEY not in verdict.reason
    assert intake.items() == [] and intake.requests()[0].api_key_ok is False


@pytest.mark.parametrize(
    ("inject", "kind", "pause"),
    [
        (lambda dd: dd.throttle_next(1, retry_after=9), "retry", 9.0),
        (lambda dd: dd.fail_next(1, status=503), "retry", None),
        (lambda dd: dd.fail_next(1, status=408), "retry", None),
        (lambda dd: dd.forbid_next(1), "sink_error", AUTH_RETRY_AFTER_SECONDS),
    ],
)
def test_injected_faults_make_exactly_one_attempt(intake: FakeDatadog, inject, kind: str, pause: float | None) -> None:  # type: ignore[no-untyped-def]
    """Faults become the right verdict after exactly one request: the SDK's own retries are off."""
    inject(intake)
    adapter = make_adapter(endpoint=intake.url)
    request = make_request(adapter, [full_event("login.completed")])
    verdict = adapter.send(request)
    assert (verdict.kind, verdict.retry_after) == (kind, pause)
    assert len(intake.requests()) == 1 and intake.items() == []
    assert adapter.send(request).kind == "delivered" and len(intake.items()) == 1


def test_connection_refused_is_unreachable_after_one_try() -> None:
    """A closed port gives a connection failure at once (no urllib3 retries), which the adapter turns into retry."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    attempt = DatadogTransport(url, KEY, timeout=2.0).submit([b'{"message":"m"}'])
    assert attempt.failure == "connection" and KEY not in attempt.detail
    adapter = make_adapter(endpoint=url)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "retry" and url in verdict.reason


def test_transport_answers_plain_values(intake: FakeDatadog) -> None:
    """submit returns a 202 Attempt on success and a 429 Attempt with its headers when throttled."""
    transport = DatadogTransport(intake.url, KEY, timeout=5.0)
    accepted = transport.submit([b'{"message":"m","timestamp":%d}' % int(FIXED * 1000)])
    assert accepted.status == 202 and accepted.failure is None
    intake.throttle_next(1, retry_after=3)
    throttled = transport.submit([b'{"message":"m"}'])
    assert throttled.answered and throttled.status == 429
    assert {k.lower(): v for k, v in throttled.headers.items()}["x-ratelimit-reset"] == "3"
    transport.close()


def test_logs_aged_past_18h_while_waiting_are_dead_lettered_at_send(intake: FakeDatadog) -> None:
    """A batch that waited out an outage sends its fresh logs and dead-letters the ones now older than 18 h."""
    now = [FIXED]
    adapter = make_adapter(endpoint=intake.url, clock=lambda: now[0])
    old = full_event("login.completed", time="2026-11-25T09:00:00Z")  # 10.6 h before FIXED
    fresh = full_event("login.invalid_password", time="2026-11-26T05:00:00Z")
    request = make_request(adapter, [old, fresh])
    assert adapter.check_item(old, request.items[0], now[0]) is None  # fine when the batch was cut
    now[0] = FIXED + 10 * 3600  # the sink was failing for 10 h
    verdict = adapter.send(request)
    assert verdict.kind == "per_item"
    assert [i.outcome for i in verdict.items] == ["reject", "delivered"]
    assert "older than 18 h" in verdict.items[0].reason
    assert [item["evt"]["name"] for item in intake.items()] == ["login.invalid_password"]


def test_whole_batch_aged_past_18h_sends_nothing(intake: FakeDatadog) -> None:
    """When every log of a batch is too old by send time, nothing is posted and each is dead-lettered."""
    adapter = make_adapter(endpoint=intake.url, clock=lambda: FIXED + MAX_PAST_SECONDS + 60)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed"), full_event("user.locked")]))
    assert verdict.kind == "per_item" and [i.outcome for i in verdict.items] == ["reject", "reject"]
    assert intake.requests() == []


def test_no_key_is_a_sink_error_without_a_request(intake: FakeDatadog, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no key at all, send reports what to set and posts nothing."""
    monkeypatch.delenv("DD_API_KEY", raising=False)
    adapter = make_adapter(endpoint=intake.url, api_key=None)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "sink_error" and "api_key" in verdict.reason and intake.requests() == []


def test_key_never_logged(intake: FakeDatadog, caplog: pytest.LogCaptureFixture) -> None:
    """Even at DEBUG, nothing the SDK, urllib3 or we log contains the key, on success or failure."""
    adapter = make_adapter(endpoint=intake.url)  # the SDK's Configuration sets its loggers to WARNING here
    for name in ("", "datadog_api_client", "urllib3", "adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    intake.forbid_next(1)
    verdicts = [adapter.send(make_request(adapter, [full_event("login.completed")])) for _ in range(2)]
    assert [v.kind for v in verdicts] == ["sink_error", "delivered"]
    assert len(caplog.records) >= 2  # the SDK and urllib3 did log at DEBUG: the check below is not vacuous
    assert all(KEY not in record.getMessage() for record in caplog.records)
    assert all(KEY not in v.reason for v in verdicts)


@pytest.fixture(scope="session")
def odd_intake_server() -> Iterator[ScriptedHTTPServer]:
    """A tiny local HTTP server for answers FakeDatadog never gives (junk 2xx bodies, redirects, 400s, other 4xx)."""
    with ScriptedHTTPServer() as server:
        yield server


@pytest.fixture
def odd_intake(odd_intake_server: ScriptedHTTPServer) -> ScriptedHTTPServer:
    """The session's odd intake, answering 202 with no body and with its POST count at zero."""
    odd_intake_server.reset()
    odd_intake_server.answer = Answer(202)
    return odd_intake_server


def _send_to(server: ScriptedHTTPServer, answer: tuple[int, dict[str, str], bytes], logs: int = 2) -> str:
    server.answer = answer
    adapter = make_adapter(endpoint=server.url)
    events = [full_event(t, r) for t, r in every_type_and_reason()[:logs]]
    return adapter.send(make_request(adapter, events)).kind


@pytest.mark.parametrize(
    "answer",
    [(202, {"Content-Type": "text/html"}, b"<html>ok</html>"), (202, {"Content-Type": "application/json"}, b"not json"),
     (202, {}, b"")],
)
def test_a_202_with_any_body_is_delivered(odd_intake: ScriptedHTTPServer, answer: tuple[int, dict[str, str], bytes]) -> None:
    """A 202 whose body is not JSON (or empty) is delivered, not split and dead-lettered after the logs were accepted."""
    odd_intake.answer = answer
    adapter = make_adapter(endpoint=odd_intake.url)
    request = make_request(adapter, [full_event(t, r) for t, r in every_type_and_reason()[:2]])
    assert [adapter.send(request).kind for _ in range(3)] == ["delivered"] * 3
    assert len(odd_intake.requests) == 3
    assert odd_intake.connections == 1  # the unread body was drained: one connection, reused


def test_a_whole_batch_400_splits_and_only_a_lone_log_is_rejected(odd_intake: ScriptedHTTPServer) -> None:
    """A 400 for a request of several logs splits it (a proxy or wrong endpoint is likelier than bad logs); one log alone is rejected."""
    answer = (400, {"Content-Type": "application/json"}, b'{"errors":["Bad Request"]}')
    assert _send_to(odd_intake, answer, logs=2) == "split"
    assert _send_to(odd_intake, answer, logs=1) == "reject"


@pytest.mark.parametrize(
    "answer",
    [(301, {"Location": "https://elsewhere/api/v2/logs"}, b""), (307, {"Location": "https://elsewhere/api/v2/logs"}, b""),
     (302, {"Location": "https://login.example/"}, b"<html>login</html>"), (422, {}, b""), (418, {}, b"")],
)
def test_redirects_and_unknown_4xx_are_sink_errors(odd_intake: ScriptedHTTPServer, answer: tuple[int, dict[str, str], bytes]) -> None:
    """A redirect or an unexpected 4xx from the intake URL keeps the events as a sink_error after one request, not an endless retry."""
    assert _send_to(odd_intake, answer) == "sink_error"
    assert len(odd_intake.requests) == 1


def test_key_with_a_trailing_newline_is_sent_trimmed(intake: FakeDatadog, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key ending in a newline (a secret read from a file), in the config or in DD_API_KEY, is sent trimmed and accepted."""
    adapter = make_adapter(endpoint=intake.url, api_key=KEY + "\n")
    assert adapter.send(make_request(adapter, [full_event("login.completed")])).kind == "delivered"
    monkeypatch.setenv("DD_API_KEY", KEY + "\n")
    adapter = make_adapter(endpoint=intake.url, api_key=None)
    assert adapter.send(make_request(adapter, [full_event("login.completed")])).kind == "delivered"
    assert [r.api_key_ok for r in intake.requests()] == [True, True]


def test_key_the_http_client_refuses_is_a_sink_error_that_never_shows_it(
    intake: FakeDatadog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A key http.client refuses as a header value (a newline inside) is a sink_error whose reason and logs never quote it."""
    secret = "SECRETKEY123\nrest"
    attempt = DatadogTransport(intake.url, secret, timeout=5.0).submit([b'{"message":"m"}'])
    assert attempt.failure == "request" and "SECRETKEY" not in attempt.detail
    monkeypatch.setenv("DD_API_KEY", secret)  # the env var is not validated by the config loader
    caplog.set_level(logging.DEBUG)
    adapter = make_adapter(endpoint=intake.url, api_key=None)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "sink_error" and "check the API key" in verdict.reason and "SECRETKEY" not in verdict.reason
    assert all("SECRETKEY" not in record.getMessage() for record in caplog.records)
    assert intake.requests() == []


def test_request_is_the_one_the_sdk_would_send(odd_intake: ScriptedHTTPServer) -> None:
    """Our POST carries the SDK's own submit_log headers (user agent, key, content type, gzip) and the same logs, to the same path."""
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v2.api.logs_api import LogsApi
    from datadog_api_client.v2.model.content_encoding import ContentEncoding
    from datadog_api_client.v2.model.http_log import HTTPLog
    from datadog_api_client.v2.model.http_log_item import HTTPLogItem

    odd_intake.answer = Answer(202, {"Content-Type": "application/json"}, b"{}")  # what the SDK parses a 202 into
    adapter = make_adapter(endpoint=odd_intake.url)
    request = make_request(adapter, every_event()[:3])
    assert adapter.send(request).kind == "delivered"
    config = Configuration(host=odd_intake.url, enable_retry=False)
    config.api_key["apiKeyAuth"] = KEY
    with ApiClient(config) as client:
        LogsApi(client).submit_log(HTTPLog([HTTPLogItem(**json.loads(doc)) for doc in request.docs]), content_encoding=ContentEncoding.GZIP)
    ours, sdks = odd_intake.requests
    assert (ours.method, ours.path) == (sdks.method, sdks.path) == ("POST", "/api/v2/logs")
    unsized = ("content-length",)
    assert {k: v for k, v in ours.headers.items() if k not in unsized} == {k: v for k, v in sdks.headers.items() if k not in unsized}
    assert ours.headers["dd-api-key"] == KEY and ours.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(ours.body)) == json.loads(gzip.decompress(sdks.body)) == [json.loads(d) for d in request.docs]
