"""The Datadog classifier: every intake answer and transport failure becomes the right Verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from datadog_testkit import FIXED

from adapters.datadog.classify import Refused, Reply, Unreachable, classify, retry_after
from adapters.datadog.config import AUTH_RETRY_AFTER_SECONDS

INTAKE = "https://http-intake.logs.datadoghq.com"


def verdict_for(attempt, items: int = 10):  # type: ignore[no-untyped-def]
    return classify(attempt, now=FIXED, item_count=items, intake=INTAKE)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "delivered"), (202, "delivered"),
        (400, "reject"),
        (401, "sink_error"), (403, "sink_error"),
        (404, "sink_error"), (405, "sink_error"),
        (408, "retry"), (429, "retry"),
        (413, "split"),
        (500, "retry"), (502, "retry"), (503, "retry"), (504, "retry"), (599, "retry"),
        (418, "retry"), (422, "retry"),
    ],
)
def test_status_table(status: int, kind: str) -> None:
    """Each HTTP status maps to the outcome the Logs API reference and DESIGN.md give it; unknown 4xx never drop events."""
    assert verdict_for(Reply(status, {}, "")).kind == kind


@pytest.mark.parametrize("status", [401, 403])
def test_bad_key_keeps_events_and_says_what_to_fix(status: int) -> None:
    """401/403 is a sink error that names the API key and the site, with the long retry pause."""
    verdict = verdict_for(Reply(status, {}, '{"errors": ["Forbidden"]}'))
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
    got = retry_after(headers, FIXED)
    assert got == pytest.approx(expected, abs=1.0) if expected is not None else got is None


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_retryable_answers_carry_the_servers_pause(status: int) -> None:
    """A throttled or unavailable answer passes the server's requested pause to the core."""
    verdict = verdict_for(Reply(status, {"Retry-After": "4", "X-Ratelimit-Reset": "4"}, ""))
    assert (verdict.kind, verdict.retry_after) == ("retry", 4.0)
    assert str(status) in verdict.reason


def test_bad_request_reason_quotes_the_body_briefly() -> None:
    """A 400 rejects with the intake's words, cut to a readable length."""
    verdict = verdict_for(Reply(400, {}, "bad\n  payload " + "x" * 1000))
    assert verdict.kind == "reject" and "bad payload" in verdict.reason and len(verdict.reason) < 500


def test_unreachable_is_retried_with_the_intake_named() -> None:
    """A connection failure retries and says which intake could not be reached."""
    verdict = verdict_for(Unreachable("ConnectionRefusedError"))
    assert verdict.kind == "retry" and INTAKE in verdict.reason and verdict.retry_after is None


def test_refused_request_isolates_the_bad_log() -> None:
    """A request the SDK refuses is split until the offending log is alone, then that log is rejected."""
    assert verdict_for(Refused("bad type"), items=8).kind == "split"
    single = verdict_for(Refused("bad type"), items=1)
    assert single.kind == "reject" and "bad type" in single.reason
