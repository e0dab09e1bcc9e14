"""The Cloud Logging transport: the real google-cloud-logging client against the local stand-in, one attempt per send."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import google.auth._helpers
import pytest
from aiohttp import web
from gcl_testkit import (
    FIXED,
    PROJECT,
    case_id,
    entry_of,
    event,
    every_type_and_reason,
    full_event,
    make_adapter,
    make_config,
    make_request,
)

from adapters.cloud_logging import CloudLoggingAdapter
from adapters.cloud_logging.classify import SinkFacts, classify
from adapters.cloud_logging.encoder import encode_request
from adapters.cloud_logging.transport import TOKEN_EARLY_REFRESH_SECONDS
from adapters.contract import SinkContext
from shippers.catalog import builtin_catalog
from shippers.testing.fake_cloud_logging import FakeCloudLogging, RpcCode
from shippers.testing.fake_server import FakeServer
from shippers.testing.scripted_http import Answer, Recorded, ScriptedHTTPServer


def adapter_for(gcl: FakeCloudLogging, **keys: Any):  # type: ignore[no-untyped-def]
    return make_adapter(endpoint=gcl.url, **keys)


def events(n: int, prefix: str = "e") -> list[Any]:
    return [full_event("login.completed", id=f"{prefix}-{i}") for i in range(n)]


@pytest.mark.parametrize("case", every_type_and_reason(), ids=case_id)
def test_every_type_is_stored_exactly_as_mapped(gcl: FakeCloudLogging, case: tuple[str, str | None]) -> None:
    """The stand-in stores each catalog type's entry exactly as mapped (plus receiveTimestamp), so the mapping is valid REST JSON."""
    adapter = adapter_for(gcl)
    e = full_event(*case)
    assert adapter.send(make_request(adapter, [e])).kind == "delivered"
    (stored,) = gcl.entries()
    stored.pop("receiveTimestamp")
    assert stored == entry_of(adapter, e)


def test_the_body_on_the_wire_is_the_encoded_request(gcl: FakeCloudLogging) -> None:
    """The client sends exactly the bytes the encoder built (no re-serialisation), with partialSuccess."""
    adapter = adapter_for(gcl)
    request = make_request(adapter, events(50))
    assert adapter.send(request).kind == "delivered"
    (seen,) = gcl.requests()
    assert seen.uncompressed_bytes == len(encode_request(request.items))
    assert seen.partial_success is True
    assert seen.insert_ids == tuple(f"e-{i}" for i in range(50))


def test_partial_failure_delivers_the_rest_and_names_each_failure(gcl: FakeCloudLogging) -> None:
    """One rejected and one transiently failed entry: the others are written once, the reject carries the server's message."""
    adapter = adapter_for(gcl)
    gcl.reject_entries("e-3", message="Log entry e-3 has a bad field.")
    gcl.reject_entries_once("e-7")
    verdict = adapter.send(make_request(adapter, events(10)))
    assert verdict.kind == "per_item"
    outcomes = [i.outcome for i in verdict.items]
    assert outcomes == ["delivered"] * 3 + ["reject"] + ["delivered"] * 3 + ["retry"] + ["delivered"] * 2
    assert "Log entry e-3 has a bad field." in verdict.items[3].reason
    assert sorted(gcl.by_insert_id()) == sorted(f"e-{i}" for i in range(10) if i not in (3, 7))


@pytest.mark.parametrize("status", [503, 500, 504])
def test_server_failures_retry_after_exactly_one_attempt(gcl: FakeCloudLogging, status: int) -> None:
    """503/500/504 are a retry Verdict, and the client made one request: its own retries are off."""
    adapter = adapter_for(gcl)
    gcl.fail_next(1, status=status)
    assert adapter.send(make_request(adapter, events(3))).kind == "retry"
    assert len(gcl.requests()) == 1
    assert gcl.entries() == []
    assert adapter.send(make_request(adapter, events(3))).kind == "delivered"


def test_throttling_retries_after_the_retry_after_header(gcl: FakeCloudLogging) -> None:
    """429 RESOURCE_EXHAUSTED is a retry with the server's Retry-After, after one request."""
    adapter = adapter_for(gcl)
    gcl.throttle_next(1, retry_after=9)
    verdict = adapter.send(make_request(adapter, events(2)))
    assert (verdict.kind, verdict.retry_after) == ("retry", 9.0)
    assert len(gcl.requests()) == 1


def test_permission_denied_is_a_sink_error(gcl: FakeCloudLogging) -> None:
    """403 from the service becomes a sink_error telling what role to grant, and nothing is written."""
    adapter = adapter_for(gcl)
    gcl.deny_next()
    verdict = adapter.send(make_request(adapter, events(2)))
    assert verdict.kind == "sink_error"
    assert "roles/logging.logWriter" in verdict.reason
    assert len(gcl.requests()) == 1


def test_unauthenticated_is_a_sink_error(gcl: FakeCloudLogging) -> None:
    """401 from the service becomes a sink_error about credentials, after exactly one request."""
    adapter = adapter_for(gcl)
    gcl.unauthenticate_next()
    verdict = adapter.send(make_request(adapter, events(2)))
    assert verdict.kind == "sink_error"
    assert "credentials" in verdict.reason
    assert len(gcl.requests()) == 1


def test_unknown_project_is_a_sink_error(gcl: FakeCloudLogging) -> None:
    """Writing to a project the service does not know (every entry PERMISSION_DENIED) is a sink_error, not dead letters."""
    adapter = make_adapter(endpoint=gcl.url, project="no-such-project")
    verdict = adapter.send(make_request(adapter, events(3)))
    assert verdict.kind == "sink_error"
    assert "no-such-project" in verdict.reason and "roles/logging.logWriter" in verdict.reason


def test_a_lone_oversized_entry_is_rejected_by_the_server_answer(gcl: FakeCloudLogging) -> None:
    """If an entry over 256 KiB reaches the service anyway, its 400 rejects it with the server's message."""
    adapter = adapter_for(gcl)
    e = event("login.completed")
    request = make_request(adapter, [e])
    item = request.items[0][:-1] + b',"split":{"uid":"' + b"x" * (300 * 1024) + b'"}}'
    object.__setattr__(request, "items", [item])
    verdict = adapter.send(request)
    assert verdict.kind == "reject"
    assert "exceeds maximum size" in verdict.reason


def test_an_oversized_request_answer_splits(gcl: FakeCloudLogging) -> None:
    """The service's 'Request payload size exceeds the limit' (a body over 10 MiB) classifies as split."""
    adapter = adapter_for(gcl)
    body = b'{"entries":[' + b",".join([b'{"textPayload":"' + b"y" * 200_000 + b'"}'] * 60) + b'],"partialSuccess":true}'
    answer = adapter.transport.write(body)
    assert answer.status == 400
    assert classify(answer, 60, 0.0, SinkFacts("gcl", PROJECT)).kind == "split"


def test_connection_refused_is_a_retry() -> None:
    """Nothing listening on the endpoint is a retry, with the cause in the reason."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    adapter = make_adapter(endpoint=f"http://127.0.0.1:{port}")
    verdict = adapter.send(make_request(adapter, events(1)))
    assert verdict.kind == "retry"
    assert "refused" in verdict.reason.lower()


def test_a_silent_server_times_out_as_a_retry() -> None:
    """A server that accepts but never answers is a retry after request_timeout, not a hang."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        adapter = make_adapter(endpoint=f"http://127.0.0.1:{port}", request_timeout="200ms")
        verdict = adapter.send(make_request(adapter, events(1)))
    assert verdict.kind == "retry"
    assert "in time" in verdict.reason


def test_missing_credentials_file_is_a_sink_error_at_open(tmp_path: Path) -> None:
    """A credentials_file that does not exist makes open() a sink_error naming the key."""
    adapter = make_adapter(credentials_file=str(tmp_path / "nope.json"))
    verdict = adapter.open()
    assert verdict is not None and verdict.kind == "sink_error"
    assert "credentials_file" in verdict.reason


def test_malformed_credentials_file_is_a_sink_error(tmp_path: Path) -> None:
    """A credentials_file that is not a key is a sink_error on send too; nothing raises."""
    key = tmp_path / "key.json"
    key.write_text('{"type": "service_account"}')
    adapter = make_adapter(credentials_file=str(key))
    assert adapter.send(make_request(adapter, events(1))).kind == "sink_error"


def test_no_application_default_credentials_is_a_sink_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without endpoint or key file, missing ADC is a sink_error that says how to provide credentials."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    verdict = make_adapter().open()
    assert verdict is not None and verdict.kind == "sink_error"
    assert "Application Default Credentials" in verdict.reason


# -- a service-account key against a local token endpoint ----------------------------------------


class _TokenAndWrite(FakeServer):
    """An OAuth token endpoint and an entries:write that records the Authorization header."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_issued = 0
        self.authorizations: list[str | None] = []
        self.answer_401_next = False

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v2/entries:write", self._write)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        with self.lock:
            self.tokens_issued += 1
            token = f"token-{self.tokens_issued}"
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    async def _write(self, request: web.Request) -> web.Response:
        with self.lock:
            self.authorizations.append(request.headers.get("Authorization"))
            fail = self.answer_401_next
            self.answer_401_next = False
        if fail:
            return web.json_response({"error": {"code": 401, "message": "token revoked", "status": "UNAUTHENTICATED"}}, status=401)
        return web.json_response({})


@pytest.fixture(scope="module")
def token_server() -> Iterator[_TokenAndWrite]:
    with _TokenAndWrite() as server:
        yield server


def _service_account_key(path: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "k1", "private_key": pem.decode(),
        "client_email": f"authlog@{PROJECT}.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }))  # fmt: skip
    return path


def test_service_account_key_signs_requests_and_refreshes_after_a_401(token_server: _TokenAndWrite, tmp_path: Path) -> None:
    """credentials_file + endpoint: requests carry the key's bearer token; after a 401 the next attempt fetches a new one."""
    key = _service_account_key(tmp_path / "sa.json", f"{token_server.url}/token")
    adapter = make_adapter(endpoint=token_server.url, credentials_file=str(key))
    assert adapter.open() is None
    request = make_request(adapter, events(2))
    assert adapter.send(request).kind == "delivered"
    token_server.answer_401_next = True
    assert adapter.send(request).kind == "sink_error"
    assert adapter.send(request).kind == "delivered"
    assert token_server.authorizations == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert token_server.tokens_issued == 2
    adapter.close()


def test_an_https_endpoint_still_uses_application_default_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only a plain http:// endpoint is anonymous; an https:// proxy or PSC endpoint looks for ADC like the real API."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    verdict = make_adapter(endpoint="https://logging-psc.example.internal").open()
    assert verdict is not None and verdict.kind == "sink_error"
    assert "Application Default Credentials" in verdict.reason
    assert make_adapter(endpoint="http://127.0.0.1:9").open() is None


# -- answers the stand-in cannot give: redirects, non-JSON bodies, scripted per-entry codes -------


_LOGIN_PAGE = Answer(200, {"Content-Type": "text/html"}, b"<html>Please sign in</html>")


def _login_page_or_404(seen: Recorded) -> Answer:
    return _LOGIN_PAGE if (seen.method, seen.path) == ("GET", "/login") else Answer(404)


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[ScriptedHTTPServer]:
    """Answers entries:write with what each test queues; serves a login page on GET /login; records methods and paths."""
    with ScriptedHTTPServer(_login_page_or_404) as server:
        yield server


@pytest.fixture
def scripted(scripted_server: ScriptedHTTPServer) -> ScriptedHTTPServer:
    scripted_server.reset()
    return scripted_server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_is_a_sink_error(scripted: ScriptedHTTPServer, status: int) -> None:
    """A 3xx on the POST is a sink_error naming the endpoint, and the client never follows it to a 200 login page."""
    scripted.queue(Answer(status, {"Location": "/login?continue=x"}))
    adapter = make_adapter(endpoint=scripted.url)
    verdict = adapter.send(make_request(adapter, events(3)))
    assert verdict.kind == "sink_error"
    assert f"HTTP {status} to /login" in verdict.reason and "sinks.gcl.endpoint" in verdict.reason
    assert [(seen.method, seen.path) for seen in scripted.requests] == [("POST", "/v2/entries:write")]


def test_a_2xx_that_is_not_json_is_a_sink_error(scripted: ScriptedHTTPServer) -> None:
    """A 200 HTML page (a proxy or captive portal) is a sink_error saying the endpoint does not answer like Cloud Logging."""
    scripted.queue(Answer(200, {"Content-Type": "text/html"}, b"<html>hello</html>"))
    adapter = make_adapter(endpoint=scripted.url)
    verdict = adapter.send(make_request(adapter, events(3)))
    assert verdict.kind == "sink_error"
    assert "does not answer like Cloud Logging" in verdict.reason and "<html>hello</html>" in verdict.reason


@pytest.mark.parametrize(
    ("code", "fix"), [(5, "sinks.gcl.project"), (9, "log bucket"), (7, "roles/logging.logWriter"), (16, "credentials")]
)
def test_per_entry_errors_about_the_sink_keep_every_event(scripted: ScriptedHTTPServer, code: int, fix: str) -> None:
    """A per-entry NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED or UNAUTHENTICATED read through the client is a sink_error saying what to fix."""
    body = {"error": {"code": 400, "message": "one entry failed", "status": "INVALID_ARGUMENT", "details": [{
        "@type": "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors",
        "logEntryErrors": {"1": {"code": code, "message": "about the sink"}},
    }]}}  # fmt: skip
    scripted.queue(Answer(400, {"Content-Type": "application/json"}, json.dumps(body).encode()))
    adapter = make_adapter(endpoint=scripted.url)
    verdict = adapter.send(make_request(adapter, events(3)))
    assert (verdict.kind, verdict.items) == ("sink_error", ())
    assert fix in verdict.reason


def test_per_entry_permission_denied_from_the_stand_in_is_a_sink_error(gcl: FakeCloudLogging) -> None:
    """The stand-in failing one entry with PERMISSION_DENIED among written ones gives a sink_error naming the role, not a per-entry retry."""
    adapter = adapter_for(gcl)
    gcl.reject_entries_once("e-1", code=RpcCode.PERMISSION_DENIED)
    verdict = adapter.send(make_request(adapter, events(3)))
    assert gcl.requests()[0].failed == {1: "PERMISSION_DENIED"}
    assert verdict.kind == "sink_error" and "roles/logging.logWriter" in verdict.reason


def test_a_token_expires_on_the_monotonic_clock_though_the_wall_clock_stepped_back(
    token_server: _TokenAndWrite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the wall clock steps an hour back google-auth still thinks the first token fresh; once its 3600 s pass on the
    monotonic clock (less the refresh margin) the next write fetches a new token instead of sending an expired one."""
    key = _service_account_key(tmp_path / "sa.json", f"{token_server.url}/token")
    mono = [1_000.0]
    context = SinkContext(name="gcl", catalog=builtin_catalog(), clock=lambda: FIXED, monotonic=lambda: mono[0])
    adapter = CloudLoggingAdapter(context, make_config(endpoint=token_server.url, credentials_file=str(key)))
    issued, seen = token_server.tokens_issued, len(token_server.authorizations)
    request = make_request(adapter, events(1))
    assert adapter.send(request).kind == "delivered"
    wall_now = google.auth._helpers.utcnow
    monkeypatch.setattr(google.auth._helpers, "utcnow", lambda: wall_now() - timedelta(hours=1))
    mono[0] += 3600 - TOKEN_EARLY_REFRESH_SECONDS - 10  # still fresh by either clock
    assert adapter.send(request).kind == "delivered"
    mono[0] += 20  # stale by the monotonic clock; by the stepped wall clock google-auth sees an hour more
    assert adapter.send(request).kind == "delivered"
    first, second = f"Bearer token-{issued + 1}", f"Bearer token-{issued + 2}"
    assert token_server.authorizations[seen:] == [first, first, second]
    adapter.close()
