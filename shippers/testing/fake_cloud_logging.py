"""A local stand-in for Cloud Logging's REST ``entries.write``: ``POST /v2/entries:write``.

For tests and demos (there is no official emulator). The real client talks to it
over a socket::

    with FakeCloudLogging(projects=("p",)) as fake:
        client = google.cloud.logging.Client(
            project="p", credentials=AnonymousCredentials(), _use_grpc=False,
            client_options={"api_endpoint": fake.url})
        client.logging_api.write_entries([...], partial_success=True)
        assert fake.by_insert_id()["abc"][0]["jsonPayload"] == {...}

Faithful (from the v2 REST reference, ``WriteLogEntriesRequest`` and the quotas page):

- Request fields ``entries``, ``logName``, ``resource``, ``labels``,
  ``partialSuccess``, ``dryRun`` (camelCase or snake_case, as the proto JSON
  parser accepts); entry-level ``logName``/``resource`` override the request's,
  labels merge. Unknown field names, a second payload, a bad ``severity``,
  ``timestamp`` or label value fail the whole request with 400
  INVALID_ARGUMENT and a ``google.rpc.BadRequest`` detail, as the JSON parser does.
- Per entry: ``logName`` must be ``projects/<project>/logs/<url-encoded id>``;
  an unknown project is PERMISSION_DENIED; ``resource`` is required; an entry
  over 256 KiB or with a timestamp more than 1 day in the future is
  INVALID_ARGUMENT. Entries older than the default 30-day retention are
  accepted and silently dropped (listed in :meth:`dropped`).
- Request over 10 MiB -> 400 "Request payload size exceeds the limit".
- With ``partialSuccess`` the valid entries are written and the answer carries
  the status of the first failed entry plus a
  ``google.logging.v2.WriteLogEntriesPartialErrors`` detail whose
  ``logEntryErrors`` are keyed by the entry's index as a string, each
  ``{"code": <google.rpc.Code int>, "message": ...}``. As documented, "failed
  requests for which no entries are written will not include per-entry
  errors": when nothing was written (no partialSuccess, or every entry failed)
  the answer has the first failure's status and message and no details.
- Success is ``200`` with ``{}`` (the empty ``WriteLogEntriesResponse``). :meth:`answer_next`
  sends anything else, verbatim and without writing (a ``204``, a ``200`` carrying an ``error``,
  an HTML page), for tests of answers the service never gives.
- Every error body is Google's JSON error shape
  ``{"error": {"code", "message", "status", "details"?}}``; throttling carries
  an ``ErrorInfo`` with reason ``RATE_LIMIT_EXCEEDED``.

Simplified: no authentication (anonymous requests are fine unless
:meth:`unauthenticate_next` is queued), only ``projects/`` log names, no
monitored-resource type catalogue, no label count/size limits, no
``protoPayload`` checks, entry size measured as compact JSON, messages
paraphrased where the real wording is unknown (the PERMISSION_DENIED message
adds a hint about ``roles/logging.logWriter``), and a ``Retry-After`` header on
429 that the real service may not send.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from shippers.testing._http_body import read_body
from shippers.testing.fake_server import LOOPBACK, FakeServer

# Why: the quotas page: "Size of an entries.write request: 10 MB"; the service's own
# message names 10485760 bytes.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Why: the quotas page: "Size of a LogEntry: 256 KB"; the service reports it as "256.0K".
MAX_ENTRY_BYTES = 256 * 1024
# Why: entries.write rejects timestamps "more than 1 day in the future".
MAX_FUTURE_SKEW = timedelta(days=1)
# Why: the _Default bucket keeps logs 30 days; older entries are accepted and never stored.
DEFAULT_RETENTION = timedelta(days=30)
# Why: the LogEntry reference: "[LOG_ID] must be URL-encoded ... less than 512 characters long and
# can only include ... upper and lower case alphanumeric characters, forward-slash, underscore,
# hyphen, and period".
_LOG_ID = re.compile(r"[A-Za-z0-9/_.\-]{1,511}")
_LOG_NAME = re.compile(r"projects/(?P<project>[^/]+)/logs/(?P<log_id>[^/]+)")
_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?(?P<tz>Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)

WRITE_PATH = "/v2/entries:write"
PARTIAL_ERRORS_TYPE = "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
WRITER_PERMISSION = "logging.logEntries.create"


class RpcCode(IntEnum):
    """The ``google.rpc.Code`` values this fake answers with."""

    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


# Why: google/rpc/code.proto lists the HTTP mapping of every code.
HTTP_STATUS = {
    RpcCode.INVALID_ARGUMENT: 400,
    RpcCode.DEADLINE_EXCEEDED: 504,
    RpcCode.PERMISSION_DENIED: 403,
    RpcCode.RESOURCE_EXHAUSTED: 429,
    RpcCode.INTERNAL: 500,
    RpcCode.UNAVAILABLE: 503,
    RpcCode.UNAUTHENTICATED: 401,
}
_FAILURES = {
    500: (RpcCode.INTERNAL, "Internal error encountered."),
    503: (RpcCode.UNAVAILABLE, "The service is currently unavailable."),
    504: (RpcCode.DEADLINE_EXCEEDED, "Deadline expired before operation could complete."),
}

# Field names from google/logging/v2/logging.proto and log_entry.proto, in their JSON (camelCase) form.
REQUEST_FIELDS = frozenset({"logName", "resource", "labels", "entries", "partialSuccess", "dryRun"})
ENTRY_FIELDS = frozenset(
    {
        "logName", "resource", "protoPayload", "textPayload", "jsonPayload", "timestamp",
        "receiveTimestamp", "severity", "insertId", "httpRequest", "labels", "operation",
        "trace", "spanId", "traceSampled", "sourceLocation", "split",
    }
)  # fmt: skip
PAYLOAD_FIELDS = ("protoPayload", "textPayload", "jsonPayload")
SEVERITIES = {"DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400, "ERROR": 500,
              "CRITICAL": 600, "ALERT": 700, "EMERGENCY": 800}  # fmt: skip


@dataclass(frozen=True)
class CloudLoggingRequest:
    """What one ``entries.write`` call looked like and how the fake answered."""

    status: int
    error_status: str | None  # e.g. "INVALID_ARGUMENT"; None on 200
    entry_count: int | None  # None when the body was not parsed (too big, not JSON)
    insert_ids: tuple[str | None, ...]  # as sent, in order
    uncompressed_bytes: int
    partial_success: bool
    dry_run: bool
    written: int  # entries stored (or validated, for a dry run) by this request
    failed: dict[int, str]  # entry index -> google.rpc status name


@dataclass(frozen=True)
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes | None = None  # sent as it is instead of ``body`` (answers the service never gives)


class _ParseError(Exception):
    """The request is not a valid WriteLogEntriesRequest (the proto JSON parser's 400)."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def google_error(
    code: RpcCode, message: str, details: list[dict[str, Any]] | None = None, http_status: int | None = None
) -> dict[str, Any]:
    """Google's JSON error body: ``{"error": {"code", "message", "status", "details"?}}``."""
    error: dict[str, Any] = {"code": http_status or HTTP_STATUS[code], "message": message, "status": code.name}
    if details:
        error["details"] = details
    return {"error": error}


def _error_info(reason: str, domain: str, **metadata: str) -> dict[str, Any]:
    return {"@type": ERROR_INFO_TYPE, "reason": reason, "domain": domain, "metadata": metadata}


def _denied_message(resource: str) -> str:
    return (
        f"Permission '{WRITER_PERMISSION}' denied on resource (or it may not exist): {resource}. "
        "Grant the writer roles/logging.logWriter on that project."
    )


def _invalid(field: str, proto_type: str, value: object) -> _ParseError:
    """The proto JSON parser's complaint about one field's value."""
    return _ParseError(field, f"Invalid value at '{field}' ({proto_type}), {value!r}")


def _parse_timestamp(value: object, field: str) -> datetime:
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(field, "type.googleapis.com/google.protobuf.Timestamp", value)
    frac = (match["frac"] or ".0")[:7]  # Python keeps microseconds; nanoseconds are cut
    tz = "+00:00" if match["tz"].upper() == "Z" else match["tz"]
    try:
        return datetime.fromisoformat(f"{match['base']}{frac}{tz}")
    except ValueError:  # e.g. month 13
        raise _invalid(field, "type.googleapis.com/google.protobuf.Timestamp", value) from None


def _normalized(obj: object, allowed: frozenset[str], where: str) -> dict[str, Any]:
    """Rename snake_case keys to camelCase and reject unknown names, as the proto JSON parser does."""
    if not isinstance(obj, dict):
        raise _invalid(where, "TYPE_MESSAGE", obj)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = _camel(key)
        if name not in allowed:
            message = f"Invalid JSON payload received. Unknown name {key!r} at '{where}': Cannot find field."
            raise _ParseError(where, message)
        out[name] = value
    return out


def _check_entry_values(entry: dict[str, Any], where: str) -> None:
    """The type checks the proto JSON parser makes on one LogEntry."""
    payloads = [name for name in PAYLOAD_FIELDS if name in entry]
    if len(payloads) > 1:
        message = f"Invalid JSON payload received. oneof field 'payload' is already set. Cannot set '{payloads[1]}'"
        raise _ParseError(where, message)
    if "jsonPayload" in entry and not isinstance(entry["jsonPayload"], dict):
        raise _invalid(f"{where}.json_payload", "type.googleapis.com/google.protobuf.Struct", entry["jsonPayload"])
    if "textPayload" in entry and not isinstance(entry["textPayload"], str):
        raise _invalid(f"{where}.text_payload", "TYPE_STRING", entry["textPayload"])
    severity = entry.get("severity")
    known = severity in SEVERITIES or (type(severity) is int and severity in SEVERITIES.values())
    if severity is not None and not known:
        raise _invalid(f"{where}.severity", "type.googleapis.com/google.logging.type.LogSeverity", severity)
    if "timestamp" in entry:
        _parse_timestamp(entry["timestamp"], f"{where}.timestamp")
    if "insertId" in entry and not isinstance(entry["insertId"], str):
        raise _invalid(f"{where}.insert_id", "TYPE_STRING", entry["insertId"])
    if "labels" in entry:
        _check_labels(entry["labels"], f"{where}.labels")


def _check_labels(labels: object, field: str) -> None:
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise _invalid(field, "map<string, string>", labels)


def _parse_request(raw: object) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The request's defaults and its entries (camelCase), or a _ParseError."""
    request = _normalized(raw, REQUEST_FIELDS, "")
    if "labels" in request:
        _check_labels(request["labels"], "labels")
    entries = request.get("entries", [])
    if not isinstance(entries, list):
        raise _invalid("entries", "TYPE_MESSAGE", entries)
    parsed = []
    for index, raw_entry in enumerate(entries):
        where = f"entries[{index}]"
        entry = _normalized(raw_entry, ENTRY_FIELDS, where)
        _check_entry_values(entry, where)
        parsed.append(entry)
    return request, parsed


class FakeCloudLogging(FakeServer):
    """Cloud Logging ``entries.write`` over REST, with recorded entries and injectable faults."""

    def __init__(
        self,
        projects: Iterable[str] = ("test-project",),
        *,
        clock: Callable[[], float] = time.time,
        host: str = LOOPBACK,
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.projects = frozenset(projects)
        self._clock = clock
        self._entries: list[dict[str, Any]] = []
        self._dropped: list[dict[str, Any]] = []
        self._requests: list[CloudLoggingRequest] = []
        self._faults: deque[_Fault] = deque()
        self._rejected: dict[str, str] = {}  # insertId -> message, every time
        self._rejected_once: dict[str, RpcCode] = {}  # insertId -> code, next time only
        self._next_id = 0

    # -- fault injection --------------------------------------------------------------
    def throttle_next(self, n: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``n`` requests with 429 RESOURCE_EXHAUSTED and ``Retry-After``."""
        message = (
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute' "
            "of service 'logging.googleapis.com'."
        )
        info = _error_info("RATE_LIMIT_EXCEEDED", "googleapis.com", service="logging.googleapis.com")
        body = google_error(RpcCode.RESOURCE_EXHAUSTED, message, [info])
        self._queue(n, _Fault(429, body, {"Retry-After": str(retry_after)}))

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` requests with 503 UNAVAILABLE, 500 INTERNAL or 504 DEADLINE_EXCEEDED."""
        if status not in _FAILURES:
            raise ValueError(f"status must be one of {sorted(_FAILURES)}, not {status}")
        code, message = _FAILURES[status]
        self._queue(n, _Fault(status, google_error(code, message), {}))

    def deny_next(self, n: int = 1) -> None:
        """Answer the next ``n`` requests with 403 PERMISSION_DENIED, as for a writer without the role."""
        info = _error_info("IAM_PERMISSION_DENIED", "iam.googleapis.com", permission=WRITER_PERMISSION)
        body = google_error(RpcCode.PERMISSION_DENIED, _denied_message("the project"), [info])
        self._queue(n, _Fault(403, body, {}))

    def unauthenticate_next(self, n: int = 1) -> None:
        """Answer the next ``n`` requests with 401 UNAUTHENTICATED, as for an expired token."""
        message = (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential."
        )
        info = _error_info("ACCESS_TOKEN_EXPIRED", "googleapis.com", service="logging.googleapis.com")
        self._queue(n, _Fault(401, google_error(RpcCode.UNAUTHENTICATED, message, [info]), {}))

    def answer_next(
        self, status: int, body: bytes | dict[str, Any] = b"", headers: dict[str, str] | None = None, n: int = 1
    ) -> None:
        """Answer the next ``n`` requests with exactly this, writing nothing: answers the service never gives.

        For what a proxy, gateway or broken middlebox might say under a 2xx: ``answer_next(204)``,
        ``answer_next(200, {"error": {...}})``, ``answer_next(200, b"<html>", {"Content-Type": "text/html"})``.
        A dict body is sent as JSON; bytes as they are (``Content-Type: application/json`` unless given).
        """
        raw = json.dumps(body).encode() if isinstance(body, dict) else bytes(body)
        self._queue(n, _Fault(status, {}, {"Content-Type": "application/json", **(headers or {})}, raw))

    def reject_entries(self, *insert_ids: str, message: str = "Log entry rejected by the fake.") -> None:
        """Fail the entries with these insertIds with INVALID_ARGUMENT every time they are written."""
        with self.lock:
            self._rejected.update(dict.fromkeys(insert_ids, message))

    def reject_entries_once(self, *insert_ids: str, code: int = RpcCode.UNAVAILABLE) -> None:
        """Fail the entries with these insertIds with ``code`` the next time only (a transient per-entry error)."""
        with self.lock:
            self._rejected_once.update(dict.fromkeys(insert_ids, RpcCode(code)))

    def _queue(self, n: int, fault: _Fault) -> None:
        with self.lock:
            self._faults.extend([fault] * n)

    def reset(self) -> None:
        """Forget every entry, request, drop, rejection rule and pending fault."""
        with self.lock:
            self._entries.clear()
            self._dropped.clear()
            self._requests.clear()
            self._faults.clear()
            self._rejected.clear()
            self._rejected_once.clear()
            self._next_id = 0

    # -- observations -------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """Every stored entry in write order, with the request defaults applied; a deep copy."""
        with self.lock:
            return copy.deepcopy(self._entries)

    def by_insert_id(self) -> dict[str, list[dict[str, Any]]]:
        """Stored entries grouped by insertId; more than one copy means the shipper wrote it twice."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in self.entries():
            grouped.setdefault(entry["insertId"], []).append(entry)
        return grouped

    def dropped(self) -> list[dict[str, Any]]:
        """Entries accepted but not stored because they are older than the retention; a deep copy."""
        with self.lock:
            return copy.deepcopy(self._dropped)

    def requests(self) -> list[CloudLoggingRequest]:
        """Every request received, in order, with the status the fake answered."""
        with self.lock:
            return list(self._requests)

    # -- server ---------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        # Why: bodies are streamed through read_body, which enforces MAX_REQUEST_BYTES itself;
        # this only keeps aiohttp's own 1 MiB default out of the way of anything else.
        app = web.Application(client_max_size=2 * MAX_REQUEST_BYTES)
        app.router.add_post(WRITE_PATH, self._write)
        return app

    async def _write(self, request: web.Request) -> web.Response:
        body = await read_body(request, MAX_REQUEST_BYTES)
        raw: Any = None
        if not (body.over_limit or body.undecodable):
            try:
                raw = json.loads(body.data)
            except ValueError:
                raw = None
        sent = raw.get("entries") if isinstance(raw, dict) else None
        sent_entries = sent if isinstance(sent, list) else None
        partial = bool(isinstance(raw, dict) and raw.get("partialSuccess", raw.get("partial_success")))
        dry_run = bool(isinstance(raw, dict) and raw.get("dryRun", raw.get("dry_run")))

        with self.lock:
            fault = self._faults.popleft() if self._faults else None
        written, failed = 0, dict[int, RpcCode]()
        if fault is not None and fault.raw is not None:
            self._record(status=fault.status, error_status=None, sent_entries=sent_entries, size=body.size,
                         partial=partial, dry_run=dry_run, written=0, failed={})  # fmt: skip
            return web.Response(status=fault.status, body=fault.raw or None, headers=fault.headers)
        if fault is not None:
            status, payload, headers = fault.status, fault.body, fault.headers
        elif body.over_limit:
            message = f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
            status, payload, headers = 400, google_error(RpcCode.INVALID_ARGUMENT, message), {}
        elif raw is None:
            message = "Invalid JSON payload received. The request body is not valid JSON."
            status, payload, headers = 400, google_error(RpcCode.INVALID_ARGUMENT, message), {}
        else:
            status, payload, written, failed = self._apply(raw, partial=partial, dry_run=dry_run)
            headers = {}

        error = payload.get("error")
        self._record(status=status, error_status=error["status"] if error else None, sent_entries=sent_entries,
                     size=body.size, partial=partial, dry_run=dry_run, written=written, failed=failed)  # fmt: skip
        return web.json_response(payload, status=status, headers=headers)

    def _record(
        self, *, status: int, error_status: str | None, sent_entries: list[Any] | None, size: int, partial: bool,
        dry_run: bool, written: int, failed: dict[int, RpcCode],
    ) -> None:  # fmt: skip
        record = CloudLoggingRequest(
            status=status,
            error_status=error_status,
            entry_count=None if sent_entries is None else len(sent_entries),
            insert_ids=tuple(
                (e.get("insertId", e.get("insert_id")) if isinstance(e, dict) else None) for e in sent_entries or []
            ),
            uncompressed_bytes=size,
            partial_success=partial,
            dry_run=dry_run,
            written=written,
            failed={index: code.name for index, code in failed.items()},
        )
        with self.lock:
            self._requests.append(record)

    def _apply(
        self, raw: object, *, partial: bool, dry_run: bool
    ) -> tuple[int, dict[str, Any], int, dict[int, RpcCode]]:
        """Validate and (maybe) store one request: (status, body, entries written, failed codes)."""
        try:
            defaults, entries = _parse_request(raw)
        except _ParseError as exc:
            violation = {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"field": exc.field, "description": exc.description}],
            }
            return 400, google_error(RpcCode.INVALID_ARGUMENT, exc.description, [violation]), 0, {}

        now = datetime.fromtimestamp(self._clock(), UTC)
        with self.lock:
            errors: dict[int, tuple[RpcCode, str]] = {}
            for index, entry in enumerate(entries):
                problem = self._check_entry(entry, defaults, now)
                if problem is not None:
                    errors[index] = problem
            good = [i for i in range(len(entries)) if i not in errors]
            write = good if (partial or not errors) else []
            if not dry_run:
                for index in write:
                    self._store(entries[index], defaults, now)

        failed = {index: code for index, (code, _) in errors.items()}
        if not errors:
            return 200, {}, len(write), failed
        code, message = errors[min(errors)]
        details = None
        if write:  # "Failed requests for which no entries are written will not include per-entry errors."
            log_entry_errors = {str(i): {"code": int(c), "message": m} for i, (c, m) in sorted(errors.items())}
            details = [{"@type": PARTIAL_ERRORS_TYPE, "logEntryErrors": log_entry_errors}]
        return HTTP_STATUS[code], google_error(code, message, details), len(write), failed

    def _check_entry(
        self, entry: dict[str, Any], defaults: dict[str, Any], now: datetime
    ) -> tuple[RpcCode, str] | None:
        """The first per-entry problem, or None; called with the lock held (consumes once-rules)."""
        log_name = entry.get("logName", defaults.get("logName"))
        match = _LOG_NAME.fullmatch(log_name) if isinstance(log_name, str) else None
        if match is None or not _LOG_ID.fullmatch(unquote(match["log_id"])):
            return RpcCode.INVALID_ARGUMENT, (
                f"Invalid log name {log_name!r}: expected projects/[PROJECT_ID]/logs/[LOG_ID] with LOG_ID URL-encoded"
            )
        if match["project"] not in self.projects:
            return RpcCode.PERMISSION_DENIED, _denied_message(f"projects/{match['project']}")
        resource = entry.get("resource", defaults.get("resource"))
        if not isinstance(resource, dict) or not resource.get("type"):
            return RpcCode.INVALID_ARGUMENT, "A monitored resource with a type must be set on the entry or the request."
        size = len(_dumps(entry))
        if size > MAX_ENTRY_BYTES:
            return RpcCode.INVALID_ARGUMENT, (
                f"Log entry with size {size / 1024:.1f}K exceeds maximum size of {MAX_ENTRY_BYTES / 1024:.1f}K"
            )
        if "timestamp" in entry and _parse_timestamp(entry["timestamp"], "timestamp") > now + MAX_FUTURE_SKEW:
            return (
                RpcCode.INVALID_ARGUMENT,
                f"Log entry timestamp {entry['timestamp']} is more than 1 day in the future.",
            )
        insert_id = entry.get("insertId")
        if insert_id in self._rejected:
            return RpcCode.INVALID_ARGUMENT, self._rejected[insert_id]
        if insert_id in self._rejected_once:
            code = self._rejected_once.pop(insert_id)
            return code, f"Log entry {insert_id} failed with {code.name} (injected once by the fake)."
        return None

    def _store(self, entry: dict[str, Any], defaults: dict[str, Any], now: datetime) -> None:
        """Store one valid entry as the service would show it; called with the lock held."""
        stored = copy.deepcopy(entry)
        stored.setdefault("logName", defaults.get("logName"))
        stored.setdefault("resource", copy.deepcopy(defaults.get("resource")))
        labels = {**defaults.get("labels", {}), **entry.get("labels", {})}
        if labels:
            stored["labels"] = labels
        if not stored.get("insertId"):
            self._next_id += 1
            stored["insertId"] = f"fake-{self._next_id:012d}"
        received = now.isoformat().replace("+00:00", "Z")
        stored.setdefault("timestamp", received)
        stored["receiveTimestamp"] = received
        too_old = _parse_timestamp(stored["timestamp"], "timestamp") < now - DEFAULT_RETENTION
        (self._dropped if too_old else self._entries).append(stored)
