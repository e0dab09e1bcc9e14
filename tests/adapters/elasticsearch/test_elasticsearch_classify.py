"""The classifier: every whole-request status, transport failure and per-item status to its Verdict."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import pytest
from es_testkit import FIXED

from adapters.contract import Verdict
from adapters.elasticsearch.classify import classify_bulk, classify_setup, server_reason
from shippers.delivery.attempt import Attempt

TARGET = "logs-authlog-default"


def error_body(status: int, type_: str, reason: str) -> dict[str, Any]:
    error = {"type": type_, "reason": reason}
    return {"error": {"root_cause": [error], **error}, "status": status}


def item(status: int, error: tuple[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"_index": TARGET, "_id": "x", "status": status}
    if error:
        result["error"] = {"type": error[0], "reason": error[1]}
    return {"create": result}


def bulk(*items: dict[str, Any]) -> Attempt:
    errors = any("error" in i["create"] for i in items)
    return Attempt(200, {"errors": errors, "took": 1, "items": list(items)})


@pytest.mark.parametrize(
    ("answer", "kind", "retry_after", "text"),
    [
        (
            Attempt(429, error_body(429, "es_rejected_execution_exception", "busy"), "7"),
            "retry",
            7.0,
            "es_rejected_execution_exception",
        ),
        (Attempt(429, error_body(429, "es_rejected_execution_exception", "busy")), "retry", None, "429"),
        (
            Attempt(502, {"ok": False, "message": "backend closed connection"}),
            "retry",
            None,
            "backend closed connection",
        ),
        (
            Attempt(503, error_body(503, "cluster_block_exception", "no master"), "2.5"),
            "retry",
            2.5,
            "cluster_block_exception",
        ),
        (Attempt(504, {"ok": False, "message": "Timed out"}), "retry", None, "504"),
        (Attempt(500, error_body(500, "illegal_state_exception", "boom")), "retry", None, "illegal_state_exception"),
        (Attempt(408, None), "retry", None, "408"),
        (Attempt(413, None), "split", None, "http.max_content_length"),
        (Attempt(401, error_body(401, "security_exception", "unable to authenticate")), "sink_error", None, "api_key"),
        (
            Attempt(403, error_body(403, "security_exception", "action [indices:data/write/bulk] is unauthorized")),
            "sink_error",
            None,
            "create_doc",
        ),
        (
            Attempt(
                406,
                {
                    "error": "Content-Type header [application/vnd.elasticsearch+x-ndjson; compatible-with=9] is not supported",
                    "status": 406,
                },
            ),
            "sink_error",
            None,
            'flavor = "opensearch"',
        ),
        (
            Attempt(400, error_body(400, "media_type_header_exception", "Invalid media-type value")),
            "sink_error",
            None,
            'flavor = "opensearch"',
        ),
        (
            Attempt(400, {"error": "no handler found for uri [/es/_bulk] and method [PUT]", "status": 400}),
            "sink_error",
            None,
            "check hosts",
        ),
        (
            Attempt(404, error_body(404, "index_not_found_exception", "no such index")),
            "sink_error",
            None,
            "index_not_found_exception",
        ),
        (Attempt(None, failure="connection", detail="Connection refused"), "retry", None, "cannot reach the cluster"),
        (Attempt(None, failure="timeout", detail="read timed out"), "retry", None, "request_timeout"),
        (Attempt(None, failure="tls", detail="CERTIFICATE_VERIFY_FAILED"), "sink_error", None, "ca_file"),
        (Attempt(200, failure="product", detail="not Elasticsearch"), "sink_error", None, 'flavor = "opensearch"'),
        (Attempt(None, failure="unreadable", detail="<html>"), "retry", None, "not JSON"),
        (Attempt(None, failure="credentials", detail="no AWS credentials"), "sink_error", None, "AWS credentials"),
    ],
)
def test_whole_request_outcomes(answer: Attempt, kind: str, retry_after: float | None, text: str) -> None:
    """Each whole-request answer becomes the Verdict CONTRACTS.md asks for, with an actionable reason."""
    verdict = classify_bulk(answer, 10, FIXED, TARGET)
    assert verdict.kind == kind
    assert verdict.retry_after == retry_after
    assert text in verdict.reason


def test_single_item_too_large_is_rejected_not_split() -> None:
    """A 413 for a one-item request cannot be split further: that event goes to the DLQ."""
    verdict = classify_bulk(Attempt(413, None), 1, FIXED, TARGET)
    assert verdict.kind == "reject" and "http.max_content_length" in verdict.reason


def test_all_created_is_delivered() -> None:
    """errors=false means every item landed."""
    assert classify_bulk(bulk(item(201), item(201)), 2, FIXED, TARGET) == Verdict.delivered()


def test_all_conflicts_are_duplicates() -> None:
    """A resend whose items all answer 409 is a duplicate, not a failure."""
    conflict = ("version_conflict_engine_exception", "[x]: version conflict, document already exists")
    verdict = classify_bulk(bulk(item(409, conflict), item(409, conflict)), 2, FIXED, TARGET)
    assert verdict.kind == "duplicate"


def test_mixed_items_are_classified_one_by_one() -> None:
    """201 delivered, 409 duplicate, 429/5xx retried alone, 400 rejected with the server's type: reason."""
    answer = bulk(
        item(201),
        item(409, ("version_conflict_engine_exception", "exists")),
        item(429, ("es_rejected_execution_exception", "rejected execution of primary operation")),
        item(503, ("unavailable_shards_exception", "primary shard is not active")),
        item(500, ("illegal_state_exception", "shard failure")),
        item(400, ("document_parsing_exception", "failed to parse field [source.ip] of type [ip]")),
        item(200),
    )
    verdict = classify_bulk(answer, 7, FIXED, TARGET)
    assert verdict.kind == "per_item"
    assert [i.outcome for i in verdict.items] == [
        "delivered",
        "duplicate",
        "retry",
        "retry",
        "retry",
        "reject",
        "delivered",
    ]
    assert verdict.items[5].reason == "document_parsing_exception: failed to parse field [source.ip] of type [ip]"
    assert "es_rejected_execution_exception" in verdict.items[2].reason


@pytest.mark.parametrize("status", [401, 403, 404])
def test_item_errors_about_the_sink_keep_every_event(status: int) -> None:
    """An item refused for privileges or a missing index is a sink_error: nothing is dead-lettered."""
    answer = bulk(item(201), item(status, ("security_exception", "unauthorized")))
    verdict = classify_bulk(answer, 2, FIXED, TARGET)
    assert verdict.kind == "sink_error"


def test_item_count_mismatch_is_retried() -> None:
    """An answer with fewer items than sent cannot be matched to events: resend the whole request."""
    verdict = classify_bulk(bulk(item(201)), 2, FIXED, TARGET)
    assert verdict.kind == "retry" and "1 items for 2" in verdict.reason


def test_item_without_status_is_retried() -> None:
    """An item the answer does not describe is retried, never counted as delivered."""
    answer = Attempt(200, {"errors": True, "items": [{"create": {"_id": "x"}}, item(201)]})
    verdict = classify_bulk(answer, 2, FIXED, TARGET)
    assert [i.outcome for i in verdict.items] == ["retry", "delivered"]


def test_retry_after_as_seconds_and_as_http_date() -> None:
    """Retry-After is read as delta-seconds or as an HTTP date relative to the injected clock."""
    verdict = classify_bulk(Attempt(503, None, formatdate(FIXED + 12, usegmt=True)), 3, FIXED, TARGET)
    assert verdict.retry_after == 12.0


def test_server_reason_is_bounded() -> None:
    """A server reason quoting a huge document is cut so the DLQ and status stay readable."""
    text = server_reason(error_body(400, "document_parsing_exception", "x" * 5000))
    assert len(text) <= 1000 and text.startswith("document_parsing_exception: xxx")


def test_setup_success_and_failures() -> None:
    """Template setup: 200 is fine, 403 names the privilege, unreachable is retried, a 413 is no DLQ case."""
    assert classify_setup(Attempt(200, {"acknowledged": True}), TARGET, FIXED) is None
    forbidden = classify_setup(Attempt(403, error_body(403, "security_exception", "no")), TARGET, FIXED)
    assert forbidden is not None and forbidden.kind == "sink_error"
    assert "manage_index_templates" in forbidden.reason and "setup = false" in forbidden.reason
    down = classify_setup(Attempt(None, failure="connection", detail="refused"), TARGET, FIXED)
    assert down is not None and down.kind == "retry" and TARGET in down.reason
    big = classify_setup(Attempt(413, None), TARGET, FIXED)
    assert big is not None and big.kind == "sink_error"


def test_filtered_answer_shape_is_enough() -> None:
    """With filter_path=errors,items.*.status,items.*.error the answer still classifies item by item."""
    answer = Attempt(
        200,
        {
            "errors": True,
            "items": [
                {"create": {"status": 201}},
                {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "exists"}}},
                {"create": {"status": 400, "error": {"type": "document_parsing_exception", "reason": "bad ip"}}},
            ],
        },
    )
    verdict = classify_bulk(answer, 3, FIXED, TARGET)
    assert [i.outcome for i in verdict.items] == ["delivered", "duplicate", "reject"]
    assert verdict.items[2].reason == "document_parsing_exception: bad ip"
    assert (
        classify_bulk(Attempt(200, {"errors": False, "items": [{"create": {"status": 201}}]}), 1, FIXED, TARGET).kind
        == "delivered"
    )
