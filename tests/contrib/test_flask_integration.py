"""Flask for real (its test client, the example app): Flask-Login's signals and the helpers become catalog events."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contrib_support import (
    PASSWORD,
    RecordingWait,
    ScriptedTransport,
    dropped,
    every_byte_under,
    file_authlog,
    shipped_events,
)
from prometheus_client import CollectorRegistry, generate_latest

import shippers
from shippers.contrib.flask import AuthLog
from shippers.contrib.integration import Plumbing

EXAMPLES = Path(__file__).parents[2] / "examples" / "apps"
sys.path.insert(0, str(EXAMPLES))

import flask_app  # noqa: E402  (examples/apps is put on the path just above)

GOOD = "correct horse battery staple"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    """The example app shipping into a file sink under tmp_path."""
    flask_app.USERS["ana@example.com"] = flask_app.User("u-1", "ana@example.com", GOOD)
    application = flask_app.create_app({"AUTHLOG": file_authlog(tmp_path), "TESTING": True})
    yield application
    application.extensions["authlog"].close(5)


def form(client: Any, path: str, **fields: str) -> int:
    return client.post(path, data=fields, headers={"User-Agent": "Firefox/130"}).status_code


def test_login_failed_logins_reset_and_logout(app: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A login, a wrong password, an unknown email, a password reset and a mapped logout: the right events and fields."""
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        assert form(client, "/login", email="ana@example.com", password=PASSWORD) == 401
        assert form(client, "/login", email="nobody@example.com", password=PASSWORD) == 401
        assert form(client, "/login", email="ana@example.com", password=GOOD) == 200
        assert form(client, "/password-reset", email="ana@example.com") == 200
        assert form(client, "/password-reset/complete", email="ana@example.com", password="new passphrase 7") == 200
        assert form(client, "/logout") == 200
        events = shipped_events(tmp_path)
    assert [(e["type"], e.get("userId"), e.get("email")) for e in events] == [
        ("login.invalid_password", "u-1", "ana@example.com"),
        ("login.invalid_email", None, "nobody@example.com"),
        ("login.completed", "u-1", "ana@example.com"),
        ("password_reset.email_sent", "u-1", "ana@example.com"),
        ("password_reset.completed", "u-1", "ana@example.com"),
        ("session.logout", "u-1", "ana@example.com"),
    ]
    assert all(e["ip"] == "127.0.0.1" and e["userAgent"] == "Firefox/130" for e in events)
    assert PASSWORD.encode() not in every_byte_under(tmp_path)
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)
    assert PASSWORD.encode() not in shippers.get_shipper().metrics.render()


def test_init_app_later_and_helpers_outside_a_request(tmp_path: Path, registry: CollectorRegistry) -> None:
    """AuthLog() then init_app(app) works; a helper called outside a request ships without request facts."""
    from flask import Flask

    application = Flask("later")
    application.config["AUTHLOG"] = file_authlog(tmp_path)
    authlog = AuthLog(registry=registry)
    authlog.init_app(application)
    with application.app_context():
        assert authlog.emit("lockout_policy.limit_reached", user_id="u-9")
    [event] = shipped_events(tmp_path)
    assert (event["type"], event["userId"]) == ("lockout_policy.limit_reached", "u-9") and "ip" not in event
    application.extensions["authlog"].close(5)


def test_a_stopped_sidecar_is_counted_within_the_budget(tmp_path: Path, registry: CollectorRegistry) -> None:
    """Sidecar mode, on_slow = drop, a stopped sidecar: the login answers, having waited at most the budget, and the
    event is counted in the app's registry."""
    from shippers.contrib.transport import Outcome

    transport, wait = ScriptedTransport(Outcome("unavailable")), RecordingWait(real=True)
    flask_app.USERS["ana@example.com"] = flask_app.User("u-1", "ana@example.com", GOOD)
    application = flask_app.create_app({"AUTHLOG": None, "AUTHLOG_INTEGRATION": {"mode": "sidecar", "on_slow": "drop",
                                                                                  "budget": "25ms"}})
    # the example app builds its own AuthLog: rebuild it with the injected plumbing and this test's registry
    AuthLog(registry=registry, plumbing=Plumbing(transport=lambda _: transport, wait=wait)).init_app(application)
    assert form(application.test_client(), "/login", email="ana@example.com", password=GOOD) == 200
    assert max(wait.timeouts) <= 0.025
    assert dropped(registry, "sidecar_unavailable") == 1
    assert b'authlog_app_dropped_total{reason="sidecar_unavailable"} 1.0' in generate_latest(registry)
    application.extensions["authlog"].close(5)
