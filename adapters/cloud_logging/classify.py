"""The classifier: what Cloud Logging answered to one ``entries.write`` -> a :class:`Verdict`. Pure.

The transport turns every outcome of one attempt into an :class:`Answer` (the HTTP status,
the ``error`` object of Google's JSON error body, the ``Retry-After`` header, or a failure
that got no HTTP answer); :func:`classify` decides. In this order:

1. Per-entry errors (``WriteLogEntriesPartialErrors.logEntryErrors``, keyed by entry index)
   win over the HTTP status, which is only the status of the *first* failed entry::

       entry without an error                 -> delivered
       INVALID_ARGUMENT, OUT_OF_RANGE         -> reject (DLQ with the server's message)
       ALREADY_EXISTS                         -> duplicate
       PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED, FAILED_PRECONDITION
                                              -> sink_error for the whole request: about the sink
                                                 (role, project, log bucket), not the entry; keep all
       any other code (UNAVAILABLE, ...)      -> retry that entry alone

2. Otherwise the whole request::

       200 with {} (WriteLogEntriesResponse)  -> delivered: the only answer that acknowledges a write
       any other 2xx: 204, an empty 200, a    -> sink_error: not Cloud Logging (check endpoint); nothing
         200 with an "error" or another body,    says the entries were written, so every one is kept
         201/202, a body that is not JSON
       any 3xx                                -> sink_error: not Cloud Logging (check endpoint)
       429 RESOURCE_EXHAUSTED                 -> retry (Retry-After / RetryInfo honoured)
       408, 5xx, UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ABORTED, UNKNOWN -> retry
       400 "payload size exceeds", 413        -> split (reject when it is one entry)
       400 about resource / logName / labels  -> sink_error (the sink's config is wrong)
       400 otherwise                          -> split to isolate the bad entries; one entry: reject
       401 UNAUTHENTICATED                    -> sink_error (credentials)
       403 PERMISSION_DENIED, 404 NOT_FOUND   -> sink_error (roles/logging.logWriter, project id)
       FAILED_PRECONDITION                    -> sink_error (the project's or log bucket's state)
       other                                  -> sink_error (unexpected; nothing is dropped)
       connection error, timeout              -> retry
       credentials unusable                   -> sink_error; token endpoint unreachable -> retry

A whole-request 400 without per-entry errors means no entry was written: with
``partialSuccess`` one bad entry among good ones always comes back per entry, so a
failure of all of them is most likely the sink's own resource, log name or labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from adapters.contract import ItemResult, Verdict
from adapters.quoting import folded
from shippers.retry_after import parse_retry_after

PARTIAL_ERRORS_TYPE = "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
WRITER_ROLE = "roles/logging.logWriter"

# Why: google/rpc/code.proto; per-entry statuses carry the int, error bodies the name.
RPC_CODES = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
    13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}  # fmt: skip
# Why: CONTRACTS.md: an INVALID_ARGUMENT about one entry can never succeed; OUT_OF_RANGE is the
# same kind of "this value" error. Anything else about one entry may pass on a later try, and a
# retried entry is kept, never lost.
ENTRY_REJECT_CODES = frozenset({"INVALID_ARGUMENT", "OUT_OF_RANGE"})
ENTRY_DUPLICATE_CODES = frozenset({"ALREADY_EXISTS"})
# Why: these per-entry codes are about the sink (credentials, the writer role, the project, the
# log bucket), which every entry shares: retrying the entry alone cannot cure them.
ENTRY_SINK_CODES = frozenset({"PERMISSION_DENIED", "NOT_FOUND", "UNAUTHENTICATED", "FAILED_PRECONDITION"})
# Why: CONTRACTS.md and the Cloud Logging retry guidance: transient server-side conditions.
RETRY_CODES = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "ABORTED", "UNKNOWN", "CANCELLED"})
# Why: 408 is a timeout, 429 a throttle and 5xx the server's trouble: RFC 9110 and the table in CONTRACTS.md.
RETRY_HTTP = frozenset({408, 429})
# Why: the service's message for an oversized body; it is the one 400 that splitting cures.
_TOO_LARGE = re.compile(r"payload size exceeds|request payload size|request entity too large", re.IGNORECASE)
# Why: a whole-request 400 that names these is about the sink's config, which every entry shares.
_CONFIG_FIELDS = re.compile(r"resource|log.?name|label|project", re.IGNORECASE)
# Why: keep Verdict reasons (shown in status and the DLQ) readable; server messages can be long.
MAX_MESSAGE_CHARS = 500
# Why: entries.write answers WriteLogEntriesResponse, an empty message, i.e. HTTP 200 with "{}".
WRITE_OK_STATUS = 200
# Why: a false success names a few of the body's keys (never values, which could echo events).
MAX_REPLY_KEYS = 5
_KEY_NAME = re.compile(r"[A-Za-z0-9_.@$-]{1,40}")
_STATUS_NAME = re.compile(r"[A-Z_]{1,40}")

Failure = Literal["", "connection", "timeout", "credentials", "credentials_transient", "not_cloud_logging"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got back, free of SDK types (the transport builds it)."""

    status: int = 0  # the HTTP status; 0 when no HTTP answer arrived
    error: dict[str, Any] | None = None  # the "error" object of Google's JSON error body
    retry_after: str | None = None  # the Retry-After header, as sent
    date: str | None = None  # the Date header (an HTTP-date Retry-After is measured from it)
    failure: Failure = ""  # why no usable HTTP answer arrived
    detail: str = ""  # what went wrong, for failures (no secrets)
    location: str | None = None  # the Location header of a redirect
    reply: Any = None  # the parsed JSON body of a 2xx answer; None when it was empty


@dataclass(frozen=True, slots=True)
class SinkFacts:
    """What messages name so a person can act on them."""

    sink: str
    project: str
    endpoint: str | None = None


def _short(text: str) -> str:
    return folded(str(text), MAX_MESSAGE_CHARS)


def _code_name(code: Any) -> str:
    if isinstance(code, int):
        return RPC_CODES.get(code, f"code {code}")
    return str(code) if code else "UNKNOWN"


def _details(error: dict[str, Any] | None) -> list[dict[str, Any]]:
    details = (error or {}).get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _entry_errors(error: dict[str, Any] | None) -> dict[int, dict[str, Any]] | None:
    """Per-entry statuses by index, or None when the answer carries no partial errors."""
    for detail in _details(error):
        if detail.get("@type") == PARTIAL_ERRORS_TYPE:
            raw = detail.get("logEntryErrors")
            if not isinstance(raw, dict):
                return None
            out: dict[int, dict[str, Any]] = {}
            for key, status in raw.items():
                try:
                    index = int(key)
                except (TypeError, ValueError):
                    continue
                out[index] = status if isinstance(status, dict) else {}
            return out
    return None




def _retry_info(error: dict[str, Any] | None) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` ("1.5s"), when the service sent one."""
    for detail in _details(error):
        if detail.get("@type") == RETRY_INFO_TYPE:
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(float(delay[:-1]), 0.0)
                except ValueError:
                    return None
    return None


def _wait(answer: Answer, now: float) -> float | None:
    header = parse_retry_after(answer.retry_after, now, answer.date)
    return header if header is not None else _retry_info(answer.error)


def _violations(error: dict[str, Any] | None) -> str:
    parts = []
    for detail in _details(error):
        if detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict):
                    parts.append(f"{violation.get('field', '')} {violation.get('description', '')}")
    return " ".join(parts)


def _per_item(
    entry_errors: dict[int, dict[str, Any]], count: int, answer: Answer, now: float, facts: SinkFacts
) -> Verdict:
    wait = _wait(answer, now)
    items = []
    for index in range(count):
        status = entry_errors.get(index)
        if status is None:
            items.append(ItemResult("delivered"))
            continue
        code = _code_name(status.get("code"))
        message = _short(status.get("message") or "no message")
        reason = f"{code}: {message}"
        if code in ENTRY_SINK_CODES:
            return _about_the_sink(code, f"entry {index}: {reason}", facts)
        if code in ENTRY_REJECT_CODES:
            items.append(ItemResult("reject", reason))
        elif code in ENTRY_DUPLICATE_CODES:
            items.append(ItemResult("duplicate", reason))
        else:
            items.append(ItemResult("retry", reason, wait if code == "RESOURCE_EXHAUSTED" else None))
    return Verdict.per_item(items)


def classify(answer: Answer, count: int, now: float, facts: SinkFacts) -> Verdict:
    """The Verdict for one attempt at writing ``count`` entries (see the module docstring)."""
    if answer.failure:
        return _no_answer(answer, facts)
    if 200 <= answer.status < 300:
        if answer.status == WRITE_OK_STATUS and answer.reply == {}:
            return Verdict.delivered()
        return Verdict.sink_error(
            f"the endpoint answered {_what_came_back(answer)}, which is not how Cloud Logging acknowledges a write "
            f"(HTTP 200 with {{}}); nothing says the entries were written, so they are kept; check "
            f"sinks.{facts.sink}.endpoint ({facts.endpoint or 'the default'}) and any proxy in between"
        )
    if 300 <= answer.status < 400:
        where = f" to {answer.location.split('?')[0]}" if answer.location else ""
        return Verdict.sink_error(
            f"the endpoint answered with a redirect (HTTP {answer.status}{where}), which Cloud Logging never sends; "
            f"check sinks.{facts.sink}.endpoint ({facts.endpoint or 'the default'}) and any proxy in between"
        )

    error = answer.error or {}
    entry_errors = _entry_errors(error)
    if entry_errors:
        return _per_item(entry_errors, count, answer, now, facts)

    status = answer.status
    code = str(error.get("status") or "")
    message = _short(error.get("message") or f"HTTP {status} without a message")
    said = f"{code or 'HTTP ' + str(status)}: {message}"

    if status == 429 or code == "RESOURCE_EXHAUSTED":
        return Verdict.retry(f"Cloud Logging is throttling writes ({said})", _wait(answer, now))
    if status in RETRY_HTTP or status >= 500 or code in RETRY_CODES:
        return Verdict.retry(f"Cloud Logging did not take the request ({said})", _wait(answer, now))
    if status == 401 or code == "UNAUTHENTICATED":
        return _about_the_sink("UNAUTHENTICATED", said, facts)
    if status == 403 or code == "PERMISSION_DENIED":
        return _about_the_sink("PERMISSION_DENIED", said, facts)
    if status == 404 or code == "NOT_FOUND":
        return _about_the_sink("NOT_FOUND", said, facts)
    if code == "FAILED_PRECONDITION":
        return _about_the_sink("FAILED_PRECONDITION", said, facts)
    too_large = status == 413 or _TOO_LARGE.search(message) is not None
    if too_large:
        if count > 1:
            return Verdict.split(f"request too large for Cloud Logging ({said})")
        return Verdict.reject(f"entry too large for Cloud Logging ({said})")
    if status == 400 or code in ENTRY_REJECT_CODES:
        if _CONFIG_FIELDS.search(f"{message} {_violations(error)}"):
            return Verdict.sink_error(
                f"Cloud Logging rejects the sink's settings ({said}); fix sinks.{facts.sink}.resource, "
                "log_name or labels"
            )
        if count > 1:
            return Verdict.split(f"Cloud Logging rejected the request without naming entries; isolating them ({said})")
        return Verdict.reject(said)
    return Verdict.sink_error(
        f"unexpected answer from Cloud Logging ({said}); check sinks.{facts.sink}.endpoint and the service status"
    )


def _what_came_back(answer: Answer) -> str:
    """A 2xx that is no write, described by its status and shape: key and status names, never values."""
    reply = answer.reply
    said = f"HTTP {answer.status}"
    if reply is None:
        return f"{said} with an empty body"
    if isinstance(reply, dict) and "error" in reply:
        error = reply["error"]
        name = error.get("status") if isinstance(error, dict) else None
        named = f" ({name})" if isinstance(name, str) and _STATUS_NAME.fullmatch(name) else ""
        return f"{said} with an error object{named}"
    if isinstance(reply, dict):
        if not reply:
            return f"{said} with {{}}"
        names = sorted(k for k in reply if _KEY_NAME.fullmatch(k))
        shown = ", ".join(names[:MAX_REPLY_KEYS]) or "unnamed"
        more = len(reply) - min(len(names), MAX_REPLY_KEYS)
        return f"{said} with a JSON object that is not the empty object (keys: {shown}{f' and {more} more' if more else ''})"
    kind = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(type(reply), "JSON")
    return f"{said} with JSON that is not the empty object ({kind})"


def _about_the_sink(code: str, said: str, facts: SinkFacts) -> Verdict:
    """The sink_error for a code about the sink itself (one of ENTRY_SINK_CODES): what to fix."""
    if code == "UNAUTHENTICATED":
        return Verdict.sink_error(
            f"Cloud Logging does not accept the credentials ({said}); check sinks.{facts.sink}.credentials_file "
            "or the Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the attached service account), "
            "and that the key is neither deleted nor disabled"
        )
    if code == "PERMISSION_DENIED":
        return Verdict.sink_error(
            f"permission denied writing to project '{facts.project}' ({said}); grant the sink's service account "
            f"{WRITER_ROLE} on project '{facts.project}' and check sinks.{facts.sink}.project"
        )
    if code == "NOT_FOUND":
        where = f" and sinks.{facts.sink}.endpoint ({facts.endpoint})" if facts.endpoint else ""
        return Verdict.sink_error(
            f"Cloud Logging does not know project '{facts.project}' ({said}); check sinks.{facts.sink}.project{where}"
        )
    return Verdict.sink_error(
        f"Cloud Logging refuses writes in the current state of project '{facts.project}' ({said}); check that "
        f"sinks.{facts.sink}.project is active and has the Logging API enabled, and that its log bucket is usable "
        "(not locked or deleted, its CMEK key enabled)"
    )


def _no_answer(answer: Answer, facts: SinkFacts) -> Verdict:
    detail = _short(answer.detail or answer.failure)
    if answer.failure == "not_cloud_logging":
        return Verdict.sink_error(
            f"the endpoint does not answer like Cloud Logging ({detail}); nothing says the entries were written; "
            f"check sinks.{facts.sink}.endpoint ({facts.endpoint or 'the default'}) and any proxy in between"
        )
    if answer.failure == "credentials":
        return Verdict.sink_error(
            f"no usable Google credentials ({detail}); set sinks.{facts.sink}.credentials_file to a service-account "
            "key, or provide Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, "
            "`gcloud auth application-default login`, or an attached service account)"
        )
    if answer.failure == "credentials_transient":
        return Verdict.retry(f"could not get an access token ({detail})")
    if answer.failure == "timeout":
        return Verdict.retry(f"Cloud Logging did not answer in time ({detail})")
    return Verdict.retry(f"cannot reach Cloud Logging ({detail})")

