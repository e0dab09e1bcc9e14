"""The common classifier: failure kinds, status classes, Retry-After and the vendor's own part, with a stub vendor."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from adapters.contract import ItemResult, Verdict
from shippers.delivery.attempt import FAILURES, Attempt
from shippers.delivery.classify import Hints, VendorRules, classify, quote, where

NOW = 1_795_635_273.0
CREDENTIALS_PAUSE = 120.0


class Stub(VendorRules):
    """A vendor whose success is 200 {"ok": true}, whose own code is 400 {"code": "Busy"}, hinting X-Wait."""

    destination = "the stub"
    hints = Hints(
        credentials="fix the stub key", privileges="grant stub:write", endpoint="check stub.endpoint",
        tls="check stub.ca", request="check stub.settings", product="set stub.flavor",
        missing_credentials="export STUB_KEY", too_large="the stub's 1 MB limit",
        credentials_retry_after=CREDENTIALS_PAUSE,
    )  # fmt: skip

    def success(self, answer: Attempt, items: int) -> Verdict:
        if answer.body == {"ok": True}:
            return Verdict.delivered()
        return Verdict.sink_error("not the stub's success")

    def own(self, answer: Attempt, items: int) -> Verdict | None:
        if isinstance(answer.body, dict) and answer.body.get("code") == "Busy":
            return Verdict.retry("the stub is busy")
        if isinstance(answer.body, dict) and answer.body.get("code") == "Mixed":
            return Verdict.per_item([ItemResult("delivered"), ItemResult("retry", "later"), ItemResult("retry", "own", 9.0)])
        return None

    def wait(self, answer: Attempt) -> float | None:
        value = answer.headers.get("x-wait")
        return float(value) if value else None


STUB = Stub()


def verdict(answer: Attempt, items: int = 5) -> Verdict:
    return classify(answer, STUB, items, NOW)


@pytest.mark.parametrize(
    ("failure", "kind", "words"),
    [
        ("connection", "retry", "cannot reach the stub"),
        ("timeout", "retry", "request_timeout"),
        ("tls", "sink_error", "check stub.ca"),
        ("unreadable", "retry", "not JSON"),
        ("request", "sink_error", "check stub.settings"),
        ("refused", "split", "isolate"),
        ("product", "sink_error", "set stub.flavor"),
        ("credentials", "sink_error", "export STUB_KEY"),
        ("credentials_transient", "retry", "could not get credentials"),
    ],
)
def test_each_failure_kind_has_its_verdict(failure: str, kind: str, words: str) -> None:
    """An attempt without an answer is classified by its failure kind, naming the destination, the detail and what to fix."""
    got = verdict(Attempt.failed(failure, "the detail"))  # type: ignore[arg-type]
    assert (got.kind, words in got.reason, "the detail" in got.reason) == (kind, True, True)


def test_the_failure_table_covers_every_kind() -> None:
    """The closed set of failure kinds is exactly the one the table above checks."""
    assert {"connection", "timeout", "tls", "unreadable", "request", "refused", "product", "credentials",
            "credentials_transient"} == FAILURES  # fmt: skip


def test_a_refused_single_item_is_rejected() -> None:
    """A client that refuses a request of one item has isolated the bad item: it is rejected."""
    assert verdict(Attempt.failed("refused", "bad field"), items=1).kind == "reject"


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (408, "retry", "timed out"), (429, "retry", "throttled"), (500, "retry", "unavailable"),
        (502, "retry", "unavailable"), (503, "retry", "unavailable"), (504, "retry", "unavailable"),
        (599, "retry", "unavailable"), (413, "split", "the stub's 1 MB limit"),
        (401, "sink_error", "fix the stub key"), (403, "sink_error", "grant stub:write"),
        (400, "sink_error", "check stub.endpoint"), (404, "sink_error", "check stub.endpoint"),
        (405, "sink_error", "check stub.endpoint"), (409, "sink_error", "check stub.endpoint"),
        (418, "sink_error", "check stub.endpoint"), (101, "sink_error", "check stub.endpoint"),
        (301, "sink_error", "redirect"), (302, "sink_error", "redirect"), (307, "sink_error", "redirect"),
        (308, "sink_error", "redirect"),
    ],
)  # fmt: skip
def test_status_classes(status: int, kind: str, words: str) -> None:
    """Each status class gets the Verdict the core gives it, with the vendor's words for what to fix."""
    got = verdict(Attempt.http(status, "the page"))
    assert (got.kind, words in got.reason) == (kind, True), got


def test_a_2xx_is_the_vendors_to_read() -> None:
    """Only the vendor's documented success acknowledges; any other 2xx is what the vendor says it is."""
    assert verdict(Attempt.http(200, {"ok": True})).kind == "delivered"
    assert verdict(Attempt.http(204)).reason == "not the stub's success"


def test_a_413_for_one_item_is_a_reject() -> None:
    """A request of one item that is too large cannot be split: the item is rejected."""
    got = verdict(Attempt.http(413), items=1)
    assert got.kind == "reject" and "this item alone" in got.reason


def test_credential_errors_carry_the_vendors_pause() -> None:
    """401, 403, a request that cannot be built and missing credentials wait the vendor's credentials pause."""
    for answer in (Attempt.http(401), Attempt.http(403), Attempt.failed("request"), Attempt.failed("credentials")):
        assert verdict(answer).retry_after == CREDENTIALS_PAUSE
    assert verdict(Attempt.http(404)).retry_after is None


def test_a_redirect_says_where_without_query_or_user_info() -> None:
    """A 3xx names where it pointed, but never its query string (tokens) or its user:password."""
    answer = Attempt.http(302, None, {"Location": "https://user:pw@login.example:8443/sso/start?token=abc#frag"})
    got = verdict(answer)
    assert "HTTP 302 to https://login.example:8443/sso/start" in got.reason
    assert "token" not in got.reason and "pw" not in got.reason and "frag" not in got.reason
    assert "(HTTP 301)," in verdict(Attempt.http(301)).reason


def test_the_vendors_own_codes_come_before_the_status_classes() -> None:
    """A vendor code on a 400 (which would be a sink_error) decides first."""
    assert verdict(Attempt.http(400, {"code": "Busy"})).kind == "retry"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),
        # measured from the answer's Date: our wall clock (NOW) stepped an hour ahead changes nothing
        ({"Retry-After": formatdate(NOW - 3600 + 30, usegmt=True), "Date": formatdate(NOW - 3600, usegmt=True)}, 30.0),
        ({"X-Wait": "11"}, 11.0),
        ({"Retry-After": "3", "X-Wait": "40"}, 3.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_honoured_then_the_vendors_hint(headers: dict[str, str], expected: float | None) -> None:
    """A retry waits what Retry-After says (seconds, or a date from the answer's Date), else the vendor's own hint."""
    assert verdict(Attempt.http(503, None, headers)).retry_after == expected


def test_a_vendor_retry_and_its_retried_items_get_the_answers_wait() -> None:
    """Retry-After reaches a vendor's own retry and every retried item without a wait of its own."""
    assert verdict(Attempt.http(400, {"code": "Busy"}, {"Retry-After": "5"})).retry_after == 5.0
    items = verdict(Attempt.http(200, {"code": "Mixed"}, {"Retry-After": "5"})).items
    assert [(i.outcome, i.retry_after) for i in items] == [("delivered", None), ("retry", 5.0), ("retry", 9.0)]


def test_quote_keeps_a_body_short_and_on_one_line() -> None:
    """Text is folded and cut, bytes decoded, JSON made compact, an empty body is nothing."""
    assert quote(b"<html>\n  <b>Bad   Gateway</b>") == "<html> <b>Bad Gateway</b>"
    assert quote({"error": "rate limited"}) == '{"error":"rate limited"}'
    assert quote(None) == "" and len(quote("x" * 5000)) == 200


def test_where_handles_relative_and_odd_locations() -> None:
    """A relative Location keeps its path; an unreadable one is left out."""
    assert where("/login?continue=x") == "/login"
    assert where("http://[::1") == "" and where(None) == ""
