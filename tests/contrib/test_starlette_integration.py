"""FastAPI and Starlette for real (TestClient): the lifespan configures and closes; the request-bound helpers ship."""

from __future__ import annotations

import sys
from pathlib import Path

from contrib_support import PASSWORD, RecordingWait, ScriptedTransport, every_byte_under, file_authlog, shipped_events
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import shippers
from shippers.contrib.integration import Plumbing
from shippers.contrib.sidecar import SidecarDelivery
from shippers.contrib.starlette import AuthLog

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "apps"))

import fastapi_app

GOOD = "correct horse battery staple"
HEADERS = {"User-Agent": "Firefox/130", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def test_fastapi_example_ships_every_moment(tmp_path: Path) -> None:
    """Login, wrong password, unknown email, password reset and mapped logout through FastAPI: right types and fields,
    ip / user agent / trace id from the request, and the password nowhere."""
    fastapi_app.USERS["ana@example.com"] = {"id": "u-1", "password": GOOD}
    app = fastapi_app.create_app(file_authlog(tmp_path))
    with TestClient(app, client=("203.0.113.7", 50000)) as client:
        assert client.post("/login", data={"email": "ana@example.com", "password": PASSWORD}, headers=HEADERS).status_code == 401
        assert client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD}, headers=HEADERS).status_code == 401
        assert client.post("/login", data={"email": "ana@example.com", "password": GOOD}, headers=HEADERS).status_code == 200
        assert client.post("/password-reset", data={"email": "ana@example.com"}, headers=HEADERS).status_code == 200
        assert client.post("/password-reset/complete", data={"email": "ana@example.com", "password": "n3w pass"},
                           headers=HEADERS).status_code == 200
        assert client.post("/logout", data={"user_id": "u-1"}, headers=HEADERS).status_code == 200
        events = shipped_events(tmp_path)
        assert PASSWORD.encode() not in every_byte_under(tmp_path)
    assert [(e["type"], e.get("userId")) for e in events] == [
        ("login.invalid_password", "u-1"), ("login.invalid_email", None), ("login.completed", "u-1"),
        ("password_reset.email_sent", "u-1"), ("password_reset.completed", "u-1"), ("session.logout", "u-1")]
    assert {(e["ip"], e["userAgent"], e["traceId"]) for e in events} == {
        ("203.0.113.7", "Firefox/130", "4bf92f3577b34da6a3ce929d0e0e4736")}


def test_the_lifespan_configures_and_closes(tmp_path: Path) -> None:
    """Entering the lifespan builds the runtime (the store opens); leaving it closes the shipper."""
    authlog = AuthLog(file_authlog(tmp_path))
    app = Starlette(routes=[], lifespan=authlog.lifespan)
    assert authlog.integration.runtime is None  # building the app opens nothing
    with TestClient(app):
        assert authlog.integration.runtime is not None
        assert shippers.get_shipper() is authlog.integration.runtime.shipper  # type: ignore[union-attr]
    assert authlog.integration.runtime is None


def test_starlette_helpers_and_a_slow_sidecar(tmp_path: Path, registry: CollectorRegistry) -> None:
    """Plain Starlette: authlog.events(request) in an endpoint; a sidecar that does not answer holds the request no
    longer than the budget, and the event is spooled."""
    transport, wait = ScriptedTransport(), RecordingWait()
    transport.hold()
    authlog = AuthLog(None, {"mode": "sidecar", "budget": "40ms", "spool_path": str(tmp_path / "spool.db")}, registry=registry,
                      plumbing=Plumbing(transport=lambda _: transport, wait=wait, start_forwarder=False))

    def login(request: Request) -> PlainTextResponse:
        authlog.events(request).login_completed(user_id="u-1")
        return PlainTextResponse("welcome")

    app = Starlette(routes=[Route("/login", login, methods=["POST"])], lifespan=authlog.lifespan)
    try:
        with TestClient(app) as client:
            assert client.post("/login").status_code == 200
            assert max(wait.timeouts) <= 0.04
            runtime = authlog.integration.runtime
            assert isinstance(runtime, SidecarDelivery) and runtime.spool is not None and runtime.spool.count() == 1
            # TestClient's own client host is "testclient", not an address: the event goes without an ip
            assert "ip" not in runtime.spool.oldest(1)[0][1].decode()
    finally:
        transport.release()
