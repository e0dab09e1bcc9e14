"""The Cloud Logging classifier: every kind of answer to entries.write -> the right Verdict."""

from __future__ import annotations

from typing import Any

import pytest
from gcl_testkit import FIXED, PROJECT

from adapters.cloud_logging.classify import PARTIAL_ERRORS_TYPE, RETRY_INFO_TYPE, SinkFacts, classify
from shippers.delivery.attempt import Attempt, Failure

FACTS = SinkFacts(sink="gcl", project=PROJECT, endpoint=None)


def error(status: str, message: str, http: int, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": http, "message": message, "status": status}
    if details is not None:
        body["details"] = details
    return body


def partial(errors: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"@type": PARTIAL_ERRORS_TYPE, "logEntryErrors": errors}]


def answer(
    status: int | None = None,
    *,
    error: dict[str, Any] | None = None,
    reply: Any = None,
    retry_after: str | None = None,
    failure: Failure | None = None,
    detail: str = "",
) -> Attempt:
    """An attempt as the transport hands it over: Google's error body as {"error": ...}, a 2xx body as parsed."""
    body = {"error": error} if error is not None else reply
    return Attempt(status, body, retry_after=retry_after, failure=failure, detail=detail)


def verdict_for(attempt: Attempt, count: int = 3):  # type: ignore[no-untyped-def]
    return classify(attempt, count, FIXED, FACTS)


def test_success_is_delivered() -> None:
    """A 200 with the empty WriteLogEntriesResponse ({}) is a delivered request."""
    assert verdict_for(answer(status=200, reply={})).kind == "delivered"


@pytest.mark.parametrize(
    ("attempt", "named"),
    [
        (answer(status=204), "HTTP 204 with an empty body"),
        (answer(status=200), "HTTP 200 with an empty body"),
        (answer(status=201, reply={}), "HTTP 201 with {}"),
        (answer(status=200, reply={"error": {"status": "UNAVAILABLE", "message": "user u-secret"}}), "error object (UNAVAILABLE)"),
        (answer(status=200, reply={"error": {"status": "not a name: u-secret"}}), "HTTP 200 with an error object,"),
        (answer(status=200, reply={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "u-secret value": 7}), "keys: a, b, c, d, e and 2 more"),
        (answer(status=200, reply=["u-secret"]), "JSON that is not the empty object (a list)"),
    ],
)
def test_a_2xx_that_is_not_200_with_an_empty_object_keeps_the_entries(attempt: Attempt, named: str) -> None:
    """Any other 2xx is a sink_error naming the status and the body's shape, never its values."""
    verdict = verdict_for(attempt)
    assert verdict.kind == "sink_error"
    assert named in verdict.reason and "sinks.gcl.endpoint" in verdict.reason
    assert "u-secret" not in verdict.reason


def test_partial_failure_is_classified_per_entry_by_index() -> None:
    """logEntryErrors keyed by index: missing = delivered, INVALID_ARGUMENT = reject with the server's message, UNAVAILABLE = retry."""
    body = error("INVALID_ARGUMENT", "first failure", 400, partial({
        "1": {"code": 3, "message": "Log entry with size 300.0K exceeds maximum size of 256.0K"},
        "3": {"code": 14, "message": "try again"},
    }))  # fmt: skip
    verdict = verdict_for(answer(status=400, error=body), count=4)
    assert verdict.kind == "per_item"
    assert [i.outcome for i in verdict.items] == ["delivered", "reject", "delivered", "retry"]
    assert "exceeds maximum size of 256.0K" in verdict.items[1].reason
    assert verdict.items[1].reason.startswith("INVALID_ARGUMENT")
    assert "try again" in verdict.items[3].reason


def test_partial_errors_win_over_a_retryable_http_status() -> None:
    """A 503 that carries per-entry errors retries only the failed entry, not the written ones."""
    body = error("UNAVAILABLE", "entry 0 unavailable", 503, partial({"0": {"code": 14, "message": "unavailable"}}))
    verdict = verdict_for(answer(status=503, error=body), count=2)
    assert verdict.kind == "per_item"
    assert [i.outcome for i in verdict.items] == ["retry", "delivered"]


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(3, "reject"), (11, "reject"), (6, "duplicate"), (8, "retry"), (13, "retry"), (4, "retry"), (14, "retry"),
     ("INVALID_ARGUMENT", "reject"), ("UNAVAILABLE", "retry")],
)  # fmt: skip
def test_per_entry_codes(code: int | str, outcome: str) -> None:
    """Per entry: bad values are rejected, ALREADY_EXISTS is a duplicate, other entry-level codes are kept and retried."""
    body = error("X", "m", 400, partial({"0": {"code": code, "message": "why"}}))
    assert verdict_for(answer(status=400, error=body), count=1).items[0].outcome == outcome


@pytest.mark.parametrize(
    ("code", "fix"),
    [(7, "roles/logging.logWriter"), (5, "sinks.gcl.project"), (16, "credentials"), (9, "log bucket"),
     ("FAILED_PRECONDITION", "log bucket")],
)  # fmt: skip
def test_per_entry_errors_about_the_sink_are_sink_errors(code: int | str, fix: str) -> None:
    """A per-entry PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED or FAILED_PRECONDITION keeps every event as a sink_error saying what to fix."""
    body = error("X", "m", 400, partial({"1": {"code": code, "message": "why"}, "2": {"code": 3, "message": "bad"}}))
    verdict = verdict_for(answer(status=400, error=body), count=3)
    assert (verdict.kind, verdict.items) == ("sink_error", ())
    assert fix in verdict.reason and "entry 1" in verdict.reason


def test_whole_request_failed_precondition_is_a_sink_error() -> None:
    """A whole-request 400 FAILED_PRECONDITION is about the project or log bucket: a sink_error, not a split that ends in the DLQ."""
    verdict = verdict_for(answer(status=400, error=error("FAILED_PRECONDITION", "bucket is locked", 400)))
    assert verdict.kind == "sink_error" and "log bucket" in verdict.reason


def test_per_entry_throttle_carries_retry_after() -> None:
    """A RESOURCE_EXHAUSTED entry is retried after the Retry-After the answer carries."""
    body = error("RESOURCE_EXHAUSTED", "slow", 429, partial({"0": {"code": 8, "message": "quota"}}))
    verdict = verdict_for(answer(status=429, error=body, retry_after="7"), count=2)
    assert verdict.items[0].retry_after == 7.0


@pytest.mark.parametrize(
    ("http", "status"),
    [(429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (500, "INTERNAL"), (504, "DEADLINE_EXCEEDED"), (502, ""), (408, "")],
)
def test_transient_whole_request_failures_retry(http: int, status: str) -> None:
    """429, 5xx and 408 retry the whole request."""
    verdict = verdict_for(answer(status=http, error=error(status, "busy", http)))
    assert verdict.kind == "retry"
    assert "busy" in verdict.reason


def test_throttle_honours_retry_after_seconds_and_dates() -> None:
    """Retry-After in seconds or as an HTTP date becomes the Verdict's retry_after."""
    throttled = error("RESOURCE_EXHAUSTED", "quota", 429)
    assert verdict_for(answer(status=429, error=throttled, retry_after="12")).retry_after == 12.0
    date = "Wed, 25 Nov 2026 19:35:03 GMT"  # 29.877 s after FIXED
    assert verdict_for(answer(status=429, error=throttled, retry_after=date)).retry_after == pytest.approx(29.877)
    assert verdict_for(answer(status=429, error=throttled)).retry_after is None


def test_retry_info_detail_is_honoured() -> None:
    """Without a header, google.rpc.RetryInfo.retryDelay gives the wait."""
    body = error("UNAVAILABLE", "later", 503, [{"@type": RETRY_INFO_TYPE, "retryDelay": "2.5s"}])
    assert verdict_for(answer(status=503, error=body)).retry_after == 2.5




def test_permission_denied_is_a_sink_error_naming_the_role() -> None:
    """403 PERMISSION_DENIED keeps the events and says to grant roles/logging.logWriter on the project."""
    verdict = verdict_for(answer(status=403, error=error("PERMISSION_DENIED", "Permission 'logging.logEntries.create' denied", 403)))
    assert verdict.kind == "sink_error"
    assert "roles/logging.logWriter" in verdict.reason
    assert f"project '{PROJECT}'" in verdict.reason


def test_unauthenticated_is_a_sink_error_about_credentials() -> None:
    """401 UNAUTHENTICATED keeps the events and points at credentials_file / ADC."""
    verdict = verdict_for(answer(status=401, error=error("UNAUTHENTICATED", "invalid credentials", 401)))
    assert verdict.kind == "sink_error"
    assert "credentials_file" in verdict.reason


def test_unknown_project_is_a_sink_error() -> None:
    """404 NOT_FOUND (unknown project, wrong endpoint) keeps the events and names sinks.<name>.project."""
    verdict = classify(answer(status=404, error=error("NOT_FOUND", "Project not found", 404)), 2, FIXED,
                       SinkFacts("gcl", PROJECT, "http://127.0.0.1:9"))  # fmt: skip
    assert verdict.kind == "sink_error"
    assert "sinks.gcl.project" in verdict.reason
    assert "http://127.0.0.1:9" in verdict.reason


def test_payload_too_large_splits_or_rejects_one() -> None:
    """'Request payload size exceeds the limit' splits a batch; a lone entry that big is rejected."""
    body = error("INVALID_ARGUMENT", "Request payload size exceeds the limit: 10485760 bytes.", 400)
    assert verdict_for(answer(status=400, error=body), count=8).kind == "split"
    assert verdict_for(answer(status=400, error=body), count=1).kind == "reject"
    assert verdict_for(answer(status=413, error=None), count=8).kind == "split"


def test_whole_request_400_about_the_resource_is_a_sink_error() -> None:
    """A 400 that no entry got through and that names the resource is the sink's config, not the events."""
    body = error("INVALID_ARGUMENT", "A monitored resource with a type must be set on the entry or the request.", 400)
    verdict = verdict_for(answer(status=400, error=body), count=1)
    assert verdict.kind == "sink_error"
    assert "sinks.gcl.resource" in verdict.reason


def test_whole_request_400_field_violation_on_labels_is_a_sink_error() -> None:
    """A BadRequest field violation on entries[i].labels counts as a config problem too."""
    body = error("INVALID_ARGUMENT", "Invalid value", 400,
                 [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "entries[0].labels", "description": "bad"}]}])  # fmt: skip
    assert verdict_for(answer(status=400, error=body), count=2).kind == "sink_error"


def test_other_whole_request_400_splits_to_find_the_bad_entry() -> None:
    """Any other whole-request 400 splits a batch to isolate the bad entry, and rejects a lone one with the server's message."""
    body = error("INVALID_ARGUMENT", "Log entry timestamp is more than 1 day in the future.", 400)
    assert verdict_for(answer(status=400, error=body), count=4).kind == "split"
    single = verdict_for(answer(status=400, error=body), count=1)
    assert single.kind == "reject"
    assert "more than 1 day in the future" in single.reason


def test_unexpected_status_keeps_the_events() -> None:
    """An answer we do not expect (e.g. 409) is a sink_error, never a dead letter."""
    assert verdict_for(answer(status=409, error=error("ABORTED?", "what", 409))).kind == "sink_error"


@pytest.mark.parametrize(
    ("failure", "kind"),
    [("connection", "retry"), ("timeout", "retry"), ("credentials_transient", "retry"), ("credentials", "sink_error")],
)
def test_failures_without_an_http_answer(failure: Failure, kind: str) -> None:
    """Connection errors and timeouts retry; unusable credentials are a sink_error saying how to provide them."""
    verdict = verdict_for(answer(failure=failure, detail="boom"))
    assert verdict.kind == kind
    assert "boom" in verdict.reason
    if kind == "sink_error":
        assert "credentials_file" in verdict.reason


def test_long_server_messages_are_shortened() -> None:
    """Reasons stay readable: a huge server message is cut to a bounded length."""
    verdict = verdict_for(answer(status=503, error=error("UNAVAILABLE", "x" * 10_000, 503)))
    assert len(verdict.reason) < 700


def test_answer_without_a_body_still_classifies() -> None:
    """A 502 from a proxy with no JSON body retries; a 403 without a body is still a sink_error."""
    assert verdict_for(answer(status=502)).kind == "retry"
    assert verdict_for(answer(status=403)).kind == "sink_error"
