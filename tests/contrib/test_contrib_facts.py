"""Request facts and field values are made safe: a strange header costs that field, never the event."""

from __future__ import annotations

from typing import Any

from shippers.contrib import facts
from shippers.contrib.failed_login import KnownUser, classify


def test_ip_is_an_address_or_nothing() -> None:
    """IPv4/IPv6 are kept (a zone id removed); 'testclient', empty and garbage become None."""
    assert facts.client_ip("203.0.113.7") == "203.0.113.7"
    assert facts.client_ip("fe80::1%eth0") == "fe80::1"
    for junk in ("testclient", "", None, "1.2.3.4.5", "x" * 10_000):
        assert facts.client_ip(junk) is None


def test_user_agent_is_cut_and_cleaned() -> None:
    """A megabyte user agent is cut to the core's limit; control characters become spaces."""
    assert len(facts.user_agent("a" * 1_000_000) or "") == 2048
    assert facts.user_agent("curl\n/8\x00") == "curl /8 "


def test_trace_id_comes_from_traceparent() -> None:
    """A W3C traceparent yields its trace id; an all-zero id or a malformed header yields None."""
    assert facts.trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert facts.trace_id("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    assert facts.trace_id("garbage") is None


def test_email_and_identifier_are_checked_not_cut() -> None:
    """Only email-shaped addresses within 254 chars are emails; an id too long is left out, not cut to someone else's."""
    assert facts.email("ana@example.com") == "ana@example.com"
    assert facts.email("ana") is None
    assert facts.email("a" * 300 + "@example.com") is None
    assert facts.identifier(42) == "42"
    assert facts.identifier("x" * 2000) is None
    assert facts.identifier(True) is None


class Lookup:
    """A user store of one user, counting lookups."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, username: str) -> KnownUser | None:
        self.asked.append(username)
        return KnownUser(7, "ana@example.com") if username in ("ana", "ana@example.com") else None


def test_failed_login_known_user_is_a_wrong_password() -> None:
    """A username that belongs to someone is login.invalid_password with that user's id and email."""
    kind, fields = classify("ana", Lookup(), "login.invalid_password")
    assert (kind, fields) == ("login.invalid_password", {"userId": "7", "email": "ana@example.com"})


def test_failed_login_unknown_user_is_an_invalid_email() -> None:
    """An unknown email is login.invalid_email carrying the email typed; an unknown non-email username carries nothing."""
    assert classify("bob@example.com", Lookup(), "x") == ("login.invalid_email", {"email": "bob@example.com"})
    assert classify("bob", Lookup(), "x") == ("login.invalid_email", {"email": None})


def test_a_huge_username_is_not_looked_up() -> None:
    """A username longer than any email is an invalid email at no cost: the user store is not asked."""
    lookup = Lookup()
    assert classify("a" * 1_000_000, lookup, "x") == ("login.invalid_email", {})
    assert lookup.asked == []


def test_without_a_lookup_the_mapped_type_is_used() -> None:
    """Lookup off (or none): the mapped login_failed type, with the email only when one was typed."""
    assert classify("ana@example.com", None, "login.invalid_password") == ("login.invalid_password", {"email": "ana@example.com"})


def test_a_failing_lookup_falls_back() -> None:
    """A user store that raises costs the classification, never the login: the mapped type is used."""
    def broken(_: str) -> Any:
        raise RuntimeError("database is down")

    assert classify("ana@example.com", broken, "login.invalid_password")[0] == "login.invalid_password"
