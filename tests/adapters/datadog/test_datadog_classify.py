"""The Datadog classifier: every intake answer and transport failure becomes the right Verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from datadog_testkit import FIXED

from adapters.datadog.classify import classify
from adapters.datadog.config import AUTH_RETRY_AFTER_SECONDS
from shippers.delivery.attempt import Attempt

INTAKE = "https://http-intake.logs.datadoghq.com"


def verdict_for(attempt, items: int = 10):  # type: ignore[no-untyped-def]
    return classify(attempt, now=FIXED, item_count=items, intake=INTAKE)


def reply(status: int, headers: dict[str, str], body: str) -> Attempt:
    """The intake's answer as the transport hands it over."""
    return Attempt.http(status, body, headers)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (202, "delivered"), (200, "sink_error"), (201, "sink_error"), (204, "sink_error"),
        (400, "split"),
        (401, "sink_error"), (403, "sink_error"),
        (404, "sink_error"), (405, "sink_error"),
        (408, "retry"), (429, "retry"),
        (413, "split"),
        (500, "retry"), (502, "retry"), (503, "retry"), (504, "retry"), (599, "retry"),
        (418, "sink_error"), (422, "sink_error"), (409, "sink_error"),
        (301, "sink_error"), (302, "sink_error"), (307, "sink_error"), (308, "sink_error"),
    ],
)
def test_status_table(status: int, kind: str) -> None:
    """Each HTTP status maps to the outcome the Logs API reference and DESIGN.md give it; unknown 3xx/4xx never drop events."""
    assert verdict_for(reply(status, {}, "")).kind == kind


@pytest.mark.parametrize("status", [401, 403])
def test_bad_key_keeps_events_and_says_what_to_fix(status: int) -> None:
    """401/403 is a sink error that names the API key and the site, with the long retry pause."""
    verdict = verdict_for(reply(status, {}, '{"errors": ["Forbidden"]}'))
    assert verdict.kind == "sink_error"
    assert "check the API key" in verdict.reason and INTAKE in verdict.reason
    assert verdict.retry_after == AUTH_RETRY_AFTER_SECONDS >= 60


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"X-Ratelimit-Reset": "11"}, 11.0),
        ({"Retry-After": "3", "X-Ratelimit-Reset": "40"}, 3.0),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(FIXED + 30, UTC), usegmt=True)}, 30.0),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "soon", "X-Ratelimit-Reset": "9"}, 9.0),
        ({"X-Ratelimit-Reset": "n/a"}, None),
        ({}, None),
    ],
)
def test_retry_after_sources(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After (seconds or HTTP date) wins, X-Ratelimit-Reset is the fallback, junk gives no hint."""
    got = verdict_for(reply(429, headers, "")).retry_after
    assert got == pytest.approx(expected, abs=1.0) if expected is not None else got is None


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_retryable_answers_carry_the_servers_pause(status: int) -> None:
    """A throttled or unavailable answer passes the server's requested pause to the core."""
    verdict = verdict_for(reply(status, {"Retry-After": "4", "X-Ratelimit-Reset": "4"}, ""))
    assert (verdict.kind, verdict.retry_after) == ("retry", 4.0)
    assert str(status) in verdict.reason


def test_bad_request_reason_quotes_the_body_briefly() -> None:
    """A 400 for a lone log rejects it with the intake's words, cut to a readable length."""
    verdict = verdict_for(reply(400, {}, "bad\n  payload " + "x" * 1000), items=1)
    assert verdict.kind == "reject" and "bad payload" in verdict.reason and len(verdict.reason) < 500


def test_a_400_for_many_logs_splits_instead_of_dead_lettering_them() -> None:
    """A whole-batch 400 (likely a proxy or wrong endpoint: the SDK builds the body) splits; only a lone log is rejected."""
    many = verdict_for(reply(400, {}, '{"errors":["Bad Request"]}'), items=1000)
    assert many.kind == "split" and "proxy" in many.reason and INTAKE in many.reason
    assert verdict_for(reply(400, {}, ""), items=2).kind == "split"
    assert verdict_for(reply(400, {}, ""), items=1).kind == "reject"


@pytest.mark.parametrize("status", [301, 302, 307, 409, 418, 422])
def test_redirects_and_unknown_4xx_keep_events_and_name_the_endpoint(status: int) -> None:
    """A 3xx or an unexpected 4xx is a sink_error saying to check site / endpoint, not an endless 'unexpected' retry."""
    verdict = verdict_for(reply(status, {"Location": "https://login.example/sso?token=abc"}, "<html>x</html>"))
    assert verdict.kind == "sink_error" and "check site / endpoint" in verdict.reason and INTAKE in verdict.reason
    assert "token=abc" not in verdict.reason


def test_unsendable_is_a_sink_error() -> None:
    """A request that cannot be sent with these settings keeps the events and passes the (secret-free) reason on."""
    verdict = verdict_for(Attempt.failed("request", "the Datadog client raised ValueError"))
    assert verdict.kind == "sink_error" and "check the API key" in verdict.reason
    assert verdict.retry_after == AUTH_RETRY_AFTER_SECONDS  # a person must fix the key: the long pause, as for 401/403


def test_unreachable_is_retried_with_the_intake_named() -> None:
    """A connection failure retries and says which intake could not be reached."""
    verdict = verdict_for(Attempt.failed("connection", "ConnectionRefusedError"))
    assert verdict.kind == "retry" and INTAKE in verdict.reason and verdict.retry_after is None


def test_refused_request_isolates_the_bad_log() -> None:
    """A request the SDK refuses is split until the offending log is alone, then that log is rejected."""
    assert verdict_for(Attempt.failed("refused", "bad type"), items=8).kind == "split"
    single = verdict_for(Attempt.failed("refused", "bad type"), items=1)
    assert single.kind == "reject" and "bad type" in single.reason
