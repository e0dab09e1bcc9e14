"""FakeCloudLogging, driven by the real google-cloud-logging client (REST transport) over a socket."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
import google.cloud.logging
import google.cloud.logging_v2
import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud.logging import Client
from google.cloud.logging_v2.types import LogEntry, WriteLogEntriesRequest

from shippers.testing.fake_cloud_logging import (
    ENTRY_FIELDS,
    MAX_ENTRY_BYTES,
    MAX_REQUEST_BYTES,
    PARTIAL_ERRORS_TYPE,
    REQUEST_FIELDS,
    WRITE_PATH,
    FakeCloudLogging,
)

PROJECT = "test-project"
LOG = f"projects/{PROJECT}/logs/authlog"
RESOURCE = {"type": "global", "labels": {"project_id": PROJECT}}
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)  # the fake's injected clock


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(insert_id: str, **fields: Any) -> dict[str, Any]:
    return {"insertId": insert_id, "timestamp": stamp(NOW), "jsonPayload": {"event": "login.completed"}, **fields}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeCloudLogging]:
    with FakeCloudLogging(projects=(PROJECT,), clock=NOW.timestamp) as fake:
        yield fake


@pytest.fixture
def gcl(server: FakeCloudLogging) -> FakeCloudLogging:
    server.reset()
    return server


@pytest.fixture(scope="module")
def client(server: FakeCloudLogging) -> Client:
    return Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        _use_grpc=False,
        client_options={"api_endpoint": server.url},
    )


def write(client: Client, entries: list[dict[str, Any]], **kwargs: Any) -> None:
    kwargs.setdefault("logger_name", LOG)
    kwargs.setdefault("resource", RESOURCE)
    client.logging_api.write_entries(entries, **kwargs)


def test_entries_are_written_with_request_defaults_applied(gcl: FakeCloudLogging, client: Client) -> None:
    """A valid write gets 200 and each stored entry carries the request's logName, resource and merged labels."""
    write(client, [entry("a", labels={"k": "entry"}), entry("b", severity="WARNING")], labels={"k": "req", "env": "t"})

    a, b = gcl.entries()
    assert a["logName"] == LOG
    assert a["resource"] == RESOURCE
    assert a["labels"] == {"k": "entry", "env": "t"}
    assert a["jsonPayload"] == {"event": "login.completed"}
    assert b["severity"] == "WARNING"
    assert b["receiveTimestamp"].startswith("2025-06-15T12:00:00")
    [req] = gcl.requests()
    assert (req.status, req.entry_count, req.insert_ids, req.written) == (200, 2, ("a", "b"), 2)
    assert req.partial_success is True


def test_partial_failure_writes_the_valid_entries_and_reports_the_others_by_index(
    gcl: FakeCloudLogging, client: Client
) -> None:
    """With partialSuccess, bad entries come back as logEntryErrors keyed by index, in a 400 raised as BadRequest."""
    too_big = entry("big", textPayload="x" * MAX_ENTRY_BYTES)
    del too_big["jsonPayload"]
    future = entry("future", timestamp=stamp(NOW + timedelta(days=1, minutes=1)))

    with pytest.raises(gexc.BadRequest) as caught:
        write(client, [entry("ok1"), too_big, future, entry("ok2")], partial_success=True)

    exc = caught.value
    assert exc.code == 400
    body = exc.response.json()  # the requests.Response the error came from
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["code"] == 400
    assert exc.details == body["error"]["details"]  # the JSON details, already as dicts
    [detail] = exc.details
    assert detail["@type"] == PARTIAL_ERRORS_TYPE
    errors = detail["logEntryErrors"]
    assert set(errors) == {"1", "2"}
    assert errors["1"]["code"] == 3
    assert "exceeds maximum size of 256.0K" in errors["1"]["message"]
    assert errors["2"]["code"] == 3
    assert "more than 1 day in the future" in errors["2"]["message"]
    assert body["error"]["message"] == errors["1"]["message"]  # the status of the first failed entry
    assert sorted(gcl.by_insert_id()) == ["ok1", "ok2"]
    assert gcl.requests()[0].failed == {1: "INVALID_ARGUMENT", 2: "INVALID_ARGUMENT"}


def test_without_partial_success_one_bad_entry_fails_the_whole_request(gcl: FakeCloudLogging, client: Client) -> None:
    """Without partialSuccess nothing is written and, as documented, the 400 carries no per-entry errors."""
    future = entry("future", timestamp=stamp(NOW + timedelta(days=2)))

    with pytest.raises(gexc.BadRequest) as caught:
        write(client, [entry("ok"), future], partial_success=False)

    assert caught.value.details == []
    assert "more than 1 day in the future" in caught.value.response.json()["error"]["message"]
    assert gcl.entries() == []


def test_when_every_entry_fails_there_are_no_per_entry_errors(gcl: FakeCloudLogging, client: Client) -> None:
    """Even with partialSuccess, a request that writes nothing reports only the first failure, without details."""
    with pytest.raises(gexc.BadRequest) as caught:
        write(client, [entry("a", timestamp=stamp(NOW + timedelta(days=3)))], partial_success=True)

    assert caught.value.details == []
    assert gcl.entries() == []


def test_unknown_project_is_permission_denied_raised_as_forbidden(gcl: FakeCloudLogging, client: Client) -> None:
    """Writing to a project the fake does not know is 403 PERMISSION_DENIED; over REST the client raises Forbidden."""
    with pytest.raises(gexc.Forbidden) as caught:
        write(client, [entry("a")], logger_name="projects/other-project/logs/authlog")

    exc = caught.value
    assert not isinstance(exc, gexc.PermissionDenied)  # that subclass is only raised by the gRPC transport
    assert exc.response.json()["error"]["status"] == "PERMISSION_DENIED"
    assert "projects/other-project" in exc.message
    assert "roles/logging.logWriter" in exc.message


def test_unknown_project_on_one_entry_is_a_per_entry_permission_error(gcl: FakeCloudLogging, client: Client) -> None:
    """An entry naming an unknown project fails alone with code 7, and the others are written."""
    with pytest.raises(gexc.Forbidden) as caught:
        write(client, [entry("a", logName="projects/nope/logs/authlog"), entry("b")])

    assert caught.value.details[0]["logEntryErrors"]["0"]["code"] == 7
    assert list(gcl.by_insert_id()) == ["b"]


def test_bad_log_names_and_missing_resource_are_per_entry_invalid_arguments(
    gcl: FakeCloudLogging, client: Client
) -> None:
    """A log id with a raw slash, a malformed name and a missing resource each fail their own entry with code 3."""
    entries = [
        entry("raw-slash", logName=f"projects/{PROJECT}/logs/auth/log", resource=RESOURCE),
        entry("encoded", logName=f"projects/{PROJECT}/logs/auth%2Flog", resource=RESOURCE),
        entry("malformed", logName="logs/authlog", resource=RESOURCE),
        entry("no-resource"),
    ]
    with pytest.raises(gexc.BadRequest) as caught:
        client.logging_api.write_entries(entries, logger_name=LOG, partial_success=True)  # no default resource

    errors = caught.value.details[0]["logEntryErrors"]
    assert {k: v["code"] for k, v in errors.items()} == {"0": 3, "2": 3, "3": 3}
    assert "resource" in errors["3"]["message"]
    [stored] = gcl.entries()
    assert stored["insertId"] == "encoded"


def test_request_over_10_mib_is_rejected_whole(gcl: FakeCloudLogging, client: Client) -> None:
    """A body over MAX_REQUEST_BYTES gets 400 'Request payload size exceeds the limit' and nothing is written."""
    chunk = "p" * (200 * 1024)
    entries = [entry(str(i), textPayload=chunk) for i in range(MAX_REQUEST_BYTES // len(chunk) + 1)]
    for e in entries:
        del e["jsonPayload"]

    with pytest.raises(gexc.BadRequest) as caught:
        write(client, entries)

    assert "Request payload size exceeds the limit: 10485760 bytes." in caught.value.message
    assert caught.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert gcl.entries() == []
    assert gcl.requests()[0].uncompressed_bytes > MAX_REQUEST_BYTES


def test_unknown_field_fails_the_whole_request_like_the_json_parser(gcl: FakeCloudLogging, client: Client) -> None:
    """A misspelt LogEntry field is a whole-request 400 with a google.rpc.BadRequest field violation."""
    with pytest.raises(gexc.BadRequest) as caught:
        write(client, [entry("a"), entry("b", jsonPayLoad={})])

    [violation] = caught.value.details
    assert violation["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert violation["fieldViolations"][0]["field"] == "entries[1]"
    assert "Unknown name 'jsonPayLoad'" in caught.value.message
    assert gcl.entries() == []


def test_snake_case_field_names_are_accepted_and_stored_as_camel_case(gcl: FakeCloudLogging, client: Client) -> None:
    """The proto JSON parser takes snake_case names too; the fake stores them under their JSON names."""
    write(client, [{"insert_id": "s", "text_payload": "hi", "timestamp": stamp(NOW)}])

    [stored] = gcl.entries()
    assert stored["insertId"] == "s"
    assert stored["textPayload"] == "hi"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"severity": "LOUD"}, "entries[0].severity"),
        ({"timestamp": "yesterday"}, "entries[0].timestamp"),
        ({"labels": {"n": 1}}, "entries[0].labels"),
        ({"textPayload": "both"}, "entries[0]"),
    ],
)
def test_malformed_values_fail_the_whole_request(
    gcl: FakeCloudLogging, client: Client, fields: dict[str, Any], field: str
) -> None:
    """A bad severity, timestamp, non-string label or a second payload is rejected by the parser before any write."""
    with pytest.raises(gexc.BadRequest) as caught:
        write(client, [entry("a", **fields), entry("b")])

    assert caught.value.details[0]["fieldViolations"][0]["field"] == field
    assert gcl.entries() == []


def test_throttle_is_429_too_many_requests_with_retry_after(gcl: FakeCloudLogging, client: Client) -> None:
    """throttle_next answers 429 RESOURCE_EXHAUSTED; the client raises TooManyRequests with the header on .response."""
    gcl.throttle_next(retry_after=5)

    with pytest.raises(gexc.TooManyRequests) as caught:
        write(client, [entry("a")])

    exc = caught.value
    assert exc.response.headers["Retry-After"] == "5"  # requests' headers are case-insensitive
    assert exc.reason == "RATE_LIMIT_EXCEEDED"
    assert exc.response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert gcl.entries() == []


@pytest.mark.parametrize(
    ("status", "exc_type", "rpc_status"),
    [
        (503, gexc.ServiceUnavailable, "UNAVAILABLE"),
        (500, gexc.InternalServerError, "INTERNAL"),
        (504, gexc.GatewayTimeout, "DEADLINE_EXCEEDED"),
    ],
)
def test_server_failures_raise_server_errors(
    gcl: FakeCloudLogging, client: Client, status: int, exc_type: type[Exception], rpc_status: str
) -> None:
    """fail_next answers a retryable 5xx, which the client raises as a ServerError subclass; the next write succeeds."""
    gcl.fail_next(status=status)

    with pytest.raises(exc_type) as caught:
        write(client, [entry("a")])
    write(client, [entry("a")])

    assert isinstance(caught.value, gexc.ServerError)
    assert caught.value.response.json()["error"]["status"] == rpc_status
    assert [r.status for r in gcl.requests()] == [status, 200]


def test_deny_is_403_forbidden_naming_the_writer_role(gcl: FakeCloudLogging, client: Client) -> None:
    """deny_next answers 403 PERMISSION_DENIED whose message names roles/logging.logWriter."""
    gcl.deny_next()

    with pytest.raises(gexc.Forbidden) as caught:
        write(client, [entry("a")])

    assert "roles/logging.logWriter" in caught.value.message
    assert caught.value.reason == "IAM_PERMISSION_DENIED"


class RefreshingCredentials(Credentials):
    """Credentials that can always refresh, as real service-account credentials do."""

    def refresh(self, request: Any) -> None:
        self.token = "fake-token"


def refreshing_client(server: FakeCloudLogging) -> Client:
    return Client(
        project=PROJECT,
        credentials=RefreshingCredentials(),
        _use_grpc=False,
        client_options={"api_endpoint": server.url},
    )


def test_401_with_anonymous_credentials_raises_a_google_auth_error(gcl: FakeCloudLogging, client: Client) -> None:
    """On 401 the transport refreshes the credentials; anonymous ones cannot, so google.auth raises, not api_core."""
    gcl.unauthenticate_next()

    with pytest.raises(google.auth.exceptions.GoogleAuthError) as caught:
        write(client, [entry("a")])

    assert isinstance(caught.value, google.auth.exceptions.InvalidOperation)


def test_one_401_is_retried_transparently_after_a_token_refresh(gcl: FakeCloudLogging) -> None:
    """With refreshable credentials a single 401 is absorbed: the transport refreshes and resends once."""
    gcl.unauthenticate_next()

    write(refreshing_client(gcl), [entry("a")])

    assert [r.status for r in gcl.requests()] == [401, 200]
    assert list(gcl.by_insert_id()) == ["a"]


def test_persistent_401_raises_unauthorized(gcl: FakeCloudLogging) -> None:
    """After two refresh attempts the third 401 reaches the caller as Unauthorized (UNAUTHENTICATED)."""
    gcl.unauthenticate_next(3)

    with pytest.raises(gexc.Unauthorized) as caught:
        write(refreshing_client(gcl), [entry("a")])

    assert caught.value.response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert [r.status for r in gcl.requests()] == [401, 401, 401]


def test_rejected_entries_fail_every_time(gcl: FakeCloudLogging, client: Client) -> None:
    """reject_entries makes those insertIds fail with INVALID_ARGUMENT on every write, with the given message."""
    gcl.reject_entries("bad", message="mapping error")

    for _ in range(2):
        with pytest.raises(gexc.BadRequest) as caught:
            write(client, [entry("good"), entry("bad")])
        assert caught.value.details[0]["logEntryErrors"] == {"1": {"code": 3, "message": "mapping error"}}

    assert len(gcl.by_insert_id()["good"]) == 2
    assert "bad" not in gcl.by_insert_id()


def test_reject_once_fails_an_entry_with_a_retryable_code_then_accepts_it(
    gcl: FakeCloudLogging, client: Client
) -> None:
    """reject_entries_once fails the entry with code 14 once; the answer takes its status (503), with details."""
    gcl.reject_entries_once("flaky", code=14)

    with pytest.raises(gexc.ServiceUnavailable) as caught:
        write(client, [entry("ok"), entry("flaky")])
    write(client, [entry("flaky")])

    assert caught.value.details[0]["logEntryErrors"]["1"]["code"] == 14
    assert sorted(gcl.by_insert_id()) == ["flaky", "ok"]
    assert [len(v) for v in gcl.by_insert_id().values()] == [1, 1]


def test_by_insert_id_shows_a_resent_entry_twice(gcl: FakeCloudLogging, client: Client) -> None:
    """The fake keeps every copy (Cloud Logging dedups only at query time), so tests can see duplicates."""
    write(client, [entry("dup")])
    write(client, [entry("dup")])

    assert len(gcl.by_insert_id()["dup"]) == 2


def test_missing_insert_id_and_timestamp_are_filled_in(gcl: FakeCloudLogging, client: Client) -> None:
    """Like the service, the fake assigns an insertId and uses the receive time when the entry has none."""
    write(client, [{"textPayload": "bare"}])

    [stored] = gcl.entries()
    assert stored["insertId"]
    assert stored["timestamp"] == stored["receiveTimestamp"]


def test_entries_older_than_retention_are_accepted_but_dropped(gcl: FakeCloudLogging, client: Client) -> None:
    """An entry older than the 30-day retention gets 200 but is not stored, as Cloud Logging drops it silently."""
    write(client, [entry("old", timestamp=stamp(NOW - timedelta(days=31))), entry("new")])

    assert list(gcl.by_insert_id()) == ["new"]
    assert [d["insertId"] for d in gcl.dropped()] == ["old"]


def test_dry_run_validates_without_storing(gcl: FakeCloudLogging, client: Client) -> None:
    """dry_run=True gets the normal answer but stores nothing."""
    write(client, [entry("a")], dry_run=True)

    assert gcl.entries() == []
    assert gcl.requests()[0].dry_run is True


def test_logger_api_path_works_against_the_fake(
    gcl: FakeCloudLogging, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's high-level Logger.log_struct reaches the fake too (diagnostic entry suppressed)."""
    monkeypatch.setattr(google.cloud.logging_v2, "_instrumentation_emitted", True)

    client.logger("authlog", resource=google.cloud.logging.Resource(type="global", labels={})).log_struct(
        {"event": "login.failed"}, severity="warning", insert_id="via-logger"
    )

    [stored] = gcl.entries()
    assert stored["logName"] == LOG
    assert stored["jsonPayload"] == {"event": "login.failed"}
    assert stored["severity"] == "WARNING"


def test_fake_knows_exactly_the_proto_field_names() -> None:
    """The fake's accepted field names match the installed WriteLogEntriesRequest and LogEntry protos."""
    assert {f.json_name for f in LogEntry.pb().DESCRIPTOR.fields} == ENTRY_FIELDS
    assert {f.json_name for f in WriteLogEntriesRequest.pb().DESCRIPTOR.fields} == REQUEST_FIELDS


def test_fail_next_refuses_a_status_the_service_does_not_retry(gcl: FakeCloudLogging) -> None:
    """fail_next only injects 500, 503 and 504."""
    with pytest.raises(ValueError, match="status must be one of"):
        gcl.fail_next(status=502)


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url + WRITE_PATH, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_success_is_200_with_an_empty_object_on_the_wire(gcl: FakeCloudLogging) -> None:
    """The stand-in acknowledges a write the way the service does: HTTP 200 and the body {} (WriteLogEntriesResponse)."""
    body = json.dumps({"logName": LOG, "resource": RESOURCE, "entries": [entry("a")]}).encode()
    assert _post(gcl.url, body) == (200, b"{}")


@pytest.mark.parametrize(
    ("status", "body", "wire"),
    [(204, b"", b""), (200, {"error": {"status": "UNAVAILABLE"}}, b'{"error": {"status": "UNAVAILABLE"}}'),
     (200, b"<html>portal</html>", b"<html>portal</html>")],
)
def test_answer_next_sends_exactly_that_and_writes_nothing(
    gcl: FakeCloudLogging, client: Client, status: int, body: bytes | dict[str, Any], wire: bytes
) -> None:
    """answer_next puts the given status and bytes on the wire once, stores nothing, records the status; the next request is served normally."""
    gcl.answer_next(status, body)
    payload = json.dumps({"logName": LOG, "resource": RESOURCE, "entries": [entry("a")]}).encode()
    assert _post(gcl.url, payload) == (status, wire)
    assert gcl.entries() == [] and [r.status for r in gcl.requests()] == [status]
    assert gcl.requests()[0].written == 0 and gcl.requests()[0].entry_count == 1
    write(client, [entry("b")])
    assert [e["insertId"] for e in gcl.entries()] == ["b"]


def test_the_client_library_itself_takes_a_204_for_a_write(gcl: FakeCloudLogging, client: Client) -> None:
    """google-cloud-logging's write_entries raises nothing on a 204 that wrote nothing: the adapter, not the SDK, must check the answer."""
    gcl.answer_next(204)
    write(client, [entry("a")])
    assert gcl.entries() == []
