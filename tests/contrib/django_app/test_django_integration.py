"""The Django app for real (test client, the project under django_app/): auth signals and views become catalog events."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from contrib_support import PASSWORD, every_byte_under, file_authlog, shipped_events
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from prometheus_client import REGISTRY, generate_latest

import shippers
from shippers.contrib.django import events, get_integration

GOOD_PASSWORD = "correct horse battery staple"
EVENTS = {
    "logout": "session.logout",
    "djproject.signals.email_verified": "email_verification.completed",
    "djproject.views.request_verification": "email_verification.sent",
}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """The project configured to ship into a file sink under tmp_path."""
    with override_settings(AUTHLOG=file_authlog(tmp_path), AUTHLOG_INTEGRATION={"events": EVENTS}):
        yield tmp_path
        get_integration().close(5)


@pytest.fixture
def ana() -> Any:
    model = get_user_model()
    model.objects.filter(username="ana").delete()
    return model.objects.create_user("ana", "ana@example.com", GOOD_PASSWORD)


def client() -> Client:
    return Client(HTTP_USER_AGENT="Firefox/130", HTTP_TRACEPARENT="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


def login(c: Client, username: str, password: str) -> int:
    return c.post("/accounts/login/", {"username": username, "password": password}).status_code


def test_a_login_is_login_completed_with_the_request_facts(folder: Path, ana: Any) -> None:
    """user_logged_in ships login.completed with the user's id and email, ip, user agent and trace id."""
    assert login(client(), "ana", GOOD_PASSWORD) == 302
    [event] = shipped_events(folder)
    assert {k: event.get(k) for k in ("type", "userId", "email", "ip", "userAgent", "traceId")} == {
        "type": "login.completed", "userId": str(ana.pk), "email": "ana@example.com", "ip": "127.0.0.1",
        "userAgent": "Firefox/130", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}


def test_failed_logins_are_told_apart_and_the_password_is_nowhere(folder: Path, ana: Any,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A wrong password is invalid_password (with the user), an unknown email invalid_email; the password is in no
    event, store file, log record or metric."""
    with caplog.at_level(logging.DEBUG):
        assert login(client(), "ana", PASSWORD) == 200
        assert login(client(), "nobody@example.com", PASSWORD) == 200
        wrong, unknown = shipped_events(folder)
    assert (wrong["type"], wrong["userId"], wrong["email"]) == ("login.invalid_password", str(ana.pk), "ana@example.com")
    assert (unknown["type"], unknown["email"]) == ("login.invalid_email", "nobody@example.com")
    assert PASSWORD.encode() not in every_byte_under(folder)
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)
    assert PASSWORD.encode() not in generate_latest(REGISTRY) + shippers.get_shipper().metrics.render()
    assert shippers.get_shipper().dead_letters() == []


def test_a_password_typed_as_the_username_is_not_shipped(folder: Path, ana: Any) -> None:
    """A password typed into the username box (not email-shaped) is looked up, found by nobody, and not shipped."""
    login(client(), PASSWORD, "whatever")
    [event] = shipped_events(folder)
    assert event["type"] == "login.invalid_email" and "email" not in event
    assert PASSWORD.encode() not in every_byte_under(folder)


def test_a_megabyte_username_costs_no_lookup(folder: Path, ana: Any, django_queries: Any) -> None:
    """A huge username (sent by a backend's own authenticate() call) is an invalid email without a query for it."""
    from django.contrib.auth import authenticate

    huge = "a" * 1_000_000 + "@example.com"
    assert authenticate(None, username=huge, password=PASSWORD) is None
    lookups = [q["sql"] for q in django_queries.captured_queries if "a" * 1000 in q["sql"]]
    [event] = shipped_events(folder)
    assert event["type"] == "login.invalid_email" and "email" not in event
    assert len(lookups) == 1  # ModelBackend's own; none of ours


def test_a_password_reset_is_two_events(folder: Path, ana: Any) -> None:
    """Django's reset views: the email sent to a known user, then the new password set; an unknown email ships nothing."""
    c = client()
    assert c.post("/accounts/password_reset/", {"email": "nobody@example.com"}).status_code == 302
    assert c.post("/accounts/password_reset/", {"email": "ana@example.com"}).status_code == 302
    link = mail.outbox[-1].body.strip().split("testserver", 1)[1]
    form = c.get(link)
    assert form.status_code == 302  # Django moves the token into the session
    assert c.post(form["Location"], {"new_password1": "x", "new_password2": "y"}).status_code == 200  # refused
    new = "another long passphrase 42"
    assert c.post(form["Location"], {"new_password1": new, "new_password2": new}).status_code == 302
    sent, failed, done = shipped_events(folder)
    assert (sent["type"], sent["userId"], sent["email"]) == ("password_reset.email_sent", str(ana.pk), "ana@example.com")
    assert (failed["type"], failed["userId"]) == ("password_reset.failed", str(ana.pk))
    assert (done["type"], done["userId"]) == ("password_reset.completed", str(ana.pk))
    assert new.encode() not in every_byte_under(folder)


def test_a_logout_mapped_to_an_extension_type(folder: Path, ana: Any) -> None:
    """user_logged_out ships the [catalog] extra type the settings map logout to."""
    c = client()
    login(c, "ana", GOOD_PASSWORD)
    assert c.post("/accounts/logout/").status_code == 200
    assert [(e["type"], e.get("userId")) for e in shipped_events(folder)] == [
        ("login.completed", str(ana.pk)), ("session.logout", str(ana.pk))]


def test_an_unmapped_logout_ships_nothing(tmp_path: Path, ana: Any) -> None:
    """Without a logout mapping the catalog has no type for it: nothing is shipped, nothing invented."""
    with override_settings(AUTHLOG=file_authlog(tmp_path), AUTHLOG_INTEGRATION={}):
        c = client()
        login(c, "ana", GOOD_PASSWORD)
        c.post("/accounts/logout/")
        assert [e["type"] for e in shipped_events(tmp_path)] == ["login.completed"]
        get_integration().close(5)


def test_the_projects_own_signal_and_view_are_mapped(folder: Path, ana: Any) -> None:
    """A signal and a view named by dotted path in events ship their types (the view on a POST answered by a redirect)."""
    c = client()
    c.get("/verify/request/")  # a GET is not a done form
    assert c.post("/verify/request/").status_code == 302
    assert c.get("/verify/ana/").status_code == 200
    assert [e["type"] for e in shipped_events(folder)] == ["email_verification.sent", "email_verification.completed"]


def test_the_helpers_cover_moments_without_a_signal(folder: Path, ana: Any) -> None:
    """events(request) fills the request facts and uses the user model's lookup."""
    from django.test import RequestFactory

    request = RequestFactory().post("/", HTTP_USER_AGENT="curl/8", REMOTE_ADDR="198.51.100.4")
    assert events(request).login_failed(email="ana@example.com")
    assert events(request).emit("magic_link.failed", reason="expired", user_id=ana.pk)
    failed, magic = shipped_events(folder)
    assert (failed["type"], failed["ip"], failed["userAgent"]) == ("login.invalid_password", "198.51.100.4", "curl/8")
    assert (magic["type"], magic["reason"]) == ("magic_link.failed", "expired")


def test_manage_py_check_names_every_problem_by_key(tmp_path: Path) -> None:
    """`manage.py check` fails listing the problems of both settings by key, and the dotted paths that do not import."""
    bad = {"budget": "soon", "tenant": "djproject.nowhere.tenant", "events": {"logout": "login.completed",
                                                                           "djproject.nowhere.signal": "signup.completed"}}
    with override_settings(AUTHLOG={"sinks": {"x": {"type": "nope"}}}, AUTHLOG_INTEGRATION=bad):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
    text = str(caught.value)
    for key in ("AUTHLOG.sinks.x.type", "AUTHLOG_INTEGRATION.budget", "AUTHLOG_INTEGRATION.events.logout",
                "AUTHLOG_INTEGRATION.events.djproject.nowhere.signal", "AUTHLOG_INTEGRATION.tenant"):
        assert key in text, key
    assert "authlog.E001" in text and "authlog.E002" in text


def test_manage_py_check_passes_good_settings(folder: Path) -> None:
    """With good settings the check is silent (and opens nothing)."""
    call_command("check")
    assert get_integration().runtime is None


def test_a_tenant_callable_fills_tenant_id(tmp_path: Path, ana: Any) -> None:
    """tenant = a dotted path to a callable(request): its answer is the event's tenantId."""
    with override_settings(AUTHLOG=file_authlog(tmp_path), AUTHLOG_INTEGRATION={"tenant": "djproject.tenancy.tenant_of"}):
        login(client(), "ana", GOOD_PASSWORD)
        assert shipped_events(tmp_path)[0]["tenantId"] == "acme"
        get_integration().close(5)


def in_forked_child(work: Callable[[], bool]) -> int:
    """Run ``work`` in a forked child that flushes and shuts its shipper down; its exit code (0: work said True)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = work()
            shippers.get_shipper().flush(20)
            shippers.shutdown(5)
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_post_fork_starts_the_integration_in_the_worker(folder: Path) -> None:
    """A preloading master holds no runtime; gunicorn's post_fork builds one in the worker, which ships."""
    from shippers.contrib.gunicorn import post_fork

    get_integration()  # the master imported the app: settings read, nothing opened
    assert get_integration().runtime is None
    def worker() -> bool:
        post_fork(server=None, worker=None)
        return get_integration().runtime is not None and events(None).login_completed(user_id="from-worker")

    assert in_forked_child(worker) == 0
    assert get_integration().runtime is None  # the master still holds nothing
    out = folder / "out" / "events.ndjson"
    assert [json.loads(x)["userId"] for x in out.read_text().splitlines()] == ["from-worker"]


def test_a_worker_forked_after_the_store_opened_builds_its_own(folder: Path) -> None:
    """Forked after the parent opened the store (no post_fork hook), the child's first event builds its own runtime."""
    assert events(None).login_completed(user_id="parent")
    parent_runtime = get_integration().runtime
    assert in_forked_child(lambda: events(None).login_completed(user_id="child")
                           and get_integration().runtime is not parent_runtime) == 0
    assert sorted(e["userId"] for e in shipped_events(folder)) == ["child", "parent"]


def test_an_unmasked_credential_is_never_read(folder: Path, ana: Any) -> None:
    """A backend passing a secret Django does not mask ('pin') in credentials: only the username is used."""
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(sender=None, credentials={"username": "ana", "pin": PASSWORD}, request=None)
    [event] = shipped_events(folder)
    assert event["type"] == "login.invalid_password"
    assert PASSWORD.encode() not in every_byte_under(folder)


def test_a_slow_sidecar_never_holds_the_login(tmp_path: Path, ana: Any, registry: Any) -> None:
    """Sidecar mode with a sidecar that does not answer: the login answers after at most the budget's wait, spooled."""
    from contrib_support import RecordingWait, ScriptedTransport

    from shippers.contrib.django import install
    from shippers.contrib.integration import Plumbing

    transport, wait = ScriptedTransport(), RecordingWait()
    transport.hold()
    settings = {"mode": "sidecar", "budget": "30ms", "spool_path": str(tmp_path / "spool.db")}
    with override_settings(AUTHLOG=None, AUTHLOG_INTEGRATION=settings):
        integration = install.install(Plumbing(transport=lambda _: transport, wait=wait, start_forwarder=False))
        try:
            assert login(client(), "ana", GOOD_PASSWORD) == 302
            assert wait.timeouts and max(wait.timeouts) <= 0.03
            spool = integration.runtime.spool  # type: ignore[union-attr]
            assert [json.loads(line)["type"] for _, line in spool.oldest(10)] == ["login.completed"]
        finally:
            transport.release()
            integration.close(5)
            install._plumbing = None
