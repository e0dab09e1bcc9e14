"""Embedded mode end to end: moments become catalog events in a file sink; nothing raises into the app."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from contrib_support import PASSWORD, dropped, every_byte_under, file_authlog, shipped_events
from prometheus_client import CollectorRegistry, generate_latest

from shippers import api
from shippers.contrib.facts import RequestFacts
from shippers.contrib.failed_login import KnownUser
from shippers.contrib.helpers import AuthEvents
from shippers.contrib.integration import Integration
from shippers.errors import BufferFullError, BufferUnavailableError

FACTS = RequestFacts(ip="203.0.113.7", user_agent="Firefox/130", trace_id="4bf92f3577b34da6a3ce929d0e0e4736", tenant_id="acme")


def embedded(tmp_path: Path, registry: CollectorRegistry, **integration: object) -> Integration:
    return Integration.from_settings(file_authlog(tmp_path), {"events": {"logout": "session.logout"}, **integration},
                                     base_dir=tmp_path, registry=registry)


def test_moments_become_events_with_the_request_facts(tmp_path: Path, registry: CollectorRegistry) -> None:
    """A login and a mapped logout reach the file sink with type, user, email, ip, user agent, trace id and tenant."""
    events = AuthEvents(embedded(tmp_path, registry), FACTS)
    assert events.login_completed(user_id=7, email="ana@example.com")
    assert events.logout(user_id=7)
    login, logout = shipped_events(tmp_path)
    assert login["type"] == "login.completed" and logout["type"] == "session.logout"
    assert {k: login[k] for k in ("userId", "email", "ip", "userAgent", "traceId", "tenantId")} == {
        "userId": "7", "email": "ana@example.com", "ip": "203.0.113.7", "userAgent": "Firefox/130",
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "tenantId": "acme"}


def test_unmapped_logout_is_ignored(tmp_path: Path, registry: CollectorRegistry) -> None:
    """Without a mapping, logout ships nothing and counts nothing: it is not invented."""
    integration = Integration.from_settings(file_authlog(tmp_path), {}, base_dir=tmp_path, registry=registry)
    events = AuthEvents(integration, FACTS)
    assert events.logout(user_id=7) is False
    assert events.login_completed(user_id=7)
    assert [e["type"] for e in shipped_events(tmp_path)] == ["login.completed"]
    assert b"authlog_app_dropped_total" in generate_latest(registry)
    assert not any(dropped(registry, r) for r in ("invalid", "internal_error", "not_configured"))


def test_failed_logins_are_classified_by_one_lookup(tmp_path: Path, registry: CollectorRegistry) -> None:
    """A known username is invalid_password (its user), an unknown one invalid_email; the password is nowhere."""
    events = AuthEvents(embedded(tmp_path, registry), FACTS,
                        lambda name: KnownUser(7, "ana@example.com") if name == "ana@example.com" else None)
    events.login_failed(email="ana@example.com")
    events.login_failed(email="nobody@example.com")
    wrong, unknown = shipped_events(tmp_path)
    assert (wrong["type"], wrong["userId"], wrong["email"]) == ("login.invalid_password", "7", "ana@example.com")
    assert (unknown["type"], unknown["email"]) == ("login.invalid_email", "nobody@example.com") and "userId" not in unknown
    assert PASSWORD.encode() not in every_byte_under(tmp_path)


def test_lookup_can_be_turned_off(tmp_path: Path, registry: CollectorRegistry) -> None:
    """failed_login_lookup = false: the user store is never asked and the mapped type is shipped."""
    asked: list[str] = []
    events = AuthEvents(embedded(tmp_path, registry, failed_login_lookup=False), FACTS, lambda n: asked.append(n))  # type: ignore[func-returns-value]
    events.login_failed(email="nobody@example.com")
    assert [e["type"] for e in shipped_events(tmp_path)] == ["login.invalid_password"] and asked == []


def test_a_bad_field_costs_only_itself(tmp_path: Path, registry: CollectorRegistry) -> None:
    """A reason the type does not have is left out; the event itself is shipped."""
    events = AuthEvents(embedded(tmp_path, registry), FACTS)
    assert events.emit("magic_link.failed", reason="no-such-reason", user_id="u-1")
    [event] = shipped_events(tmp_path)
    assert event["type"] == "magic_link.failed" and "reason" not in event


def test_a_type_the_catalog_lacks_is_counted_not_raised(tmp_path: Path, registry: CollectorRegistry) -> None:
    """emit() of an unknown type returns False and counts reason=invalid; the app sees no exception."""
    events = AuthEvents(embedded(tmp_path, registry), FACTS)
    assert events.emit("login.complete") is False
    assert dropped(registry, "invalid") == 1


def test_settings_with_problems_never_raise(tmp_path: Path, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture) -> None:
    """Bad settings are logged once by key; each event is then counted as not_configured, never raised."""
    with caplog.at_level(logging.ERROR, "shippers.contrib"):
        integration = Integration.from_settings({"sinks": {"x": {"type": "nope"}}}, {"budget": "soon"}, base_dir=tmp_path,
                                                registry=registry)
    assert any("AUTHLOG.sinks.x.type" in r.getMessage() for r in caplog.records)
    assert any("AUTHLOG_INTEGRATION.budget" in r.getMessage() for r in caplog.records)
    assert AuthEvents(integration, FACTS).login_completed(user_id=1) is False
    assert integration.start() is False
    assert dropped(registry, "not_configured") == 1


def test_embedded_mode_needs_authlog(tmp_path: Path, registry: CollectorRegistry) -> None:
    """No AUTHLOG in embedded mode is a problem that says what to set."""
    integration = Integration.from_settings(None, {}, base_dir=tmp_path, registry=registry)
    assert integration.problems and "required in embedded mode" in integration.problems[0]


def test_a_refusing_store_is_counted_not_raised(tmp_path: Path, registry: CollectorRegistry,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that refuses the event (full disk, read-only) costs a count by reason, never an exception."""
    events = AuthEvents(embedded(tmp_path, registry), FACTS)
    faults = iter([BufferFullError("the store's disk is full", 5.0, kind="disk_full"),
                   BufferUnavailableError("the store is read-only", 5.0, kind="read_only")])

    def refuse(*_: object, **__: object) -> None:
        raise next(faults)

    monkeypatch.setattr(api, "emit", refuse)
    assert events.login_completed(user_id=1) is False
    assert events.login_completed(user_id=2) is False
    assert (dropped(registry, "store_full"), dropped(registry, "store_unavailable")) == (1, 1)
