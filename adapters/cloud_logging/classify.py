"""Cloud Logging's own part of classifying one ``entries.write`` attempt (pure).

The common classifier (:mod:`shippers.delivery.classify`) owns the generic part: failures
without an answer (connection errors, timeouts and a token endpoint that is down retry; unusable
credentials are a sink_error), redirects, 408/429/5xx with Retry-After, 413, 401/403, other
4xx. The transport hands Google's JSON error body on as ``{"error": {...}}`` and a 2xx body
as parsed (or its text). This module adds what only Cloud Logging means, in this order:

1. Per-entry errors (``WriteLogEntriesPartialErrors.logEntryErrors``, keyed by entry index)
   win over the HTTP status, which is only the status of the *first* failed entry::

       entry without an error                 -> delivered
       INVALID_ARGUMENT, OUT_OF_RANGE         -> reject (DLQ with the server's message)
       ALREADY_EXISTS                         -> duplicate
       PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED, FAILED_PRECONDITION
                                              -> sink_error for the whole request: about the sink
                                                 (role, project, log bucket), not the entry; keep all
       any other code (UNAVAILABLE, ...)      -> retry that entry alone

2. Otherwise the whole request, by Google's status name (``error.status``)::

       200 with {} (WriteLogEntriesResponse)  -> delivered: the only answer that acknowledges a write
       any other 2xx: 204, an empty 200, a    -> sink_error: not Cloud Logging (check endpoint); nothing
         200 with an "error" or another body,    says the entries were written, so every one is kept
         201/202, a body that is not JSON
       RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ABORTED, UNKNOWN, CANCELLED
                                              -> retry (RetryInfo honoured when there is no Retry-After)
       UNAUTHENTICATED                        -> sink_error (credentials)
       PERMISSION_DENIED, NOT_FOUND           -> sink_error (roles/logging.logWriter, project id)
       FAILED_PRECONDITION                    -> sink_error (the project's or log bucket's state)
       "payload size exceeds" (a 400)         -> split (reject when it is one entry)
       400 about resource / logName / labels  -> sink_error (the sink's config is wrong)
       400 otherwise                          -> split to isolate the bad entries; one entry: reject

A whole-request 400 without per-entry errors means no entry was written: with
``partialSuccess`` one bad entry among good ones always comes back per entry, so a
failure of all of them is most likely the sink's own resource, log name or labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adapters.contract import ItemResult, Verdict
from shippers.delivery.attempt import Attempt
from shippers.delivery.classify import Hints, VendorRules, is_retryable, is_success, quote
from shippers.delivery.classify import classify as classify_attempt
from shippers.quoting import folded

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
# Why: Google's status for a 400 whose argument (an entry, or the sink's settings) is wrong.
BAD_REQUEST_STATUS = 400
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
# Why: enough of a 2xx body that is not JSON to recognise it (an HTML title, a proxy's name).
MAX_SAMPLE_CHARS = 80


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


def _violations(error: dict[str, Any] | None) -> str:
    parts = []
    for detail in _details(error):
        if detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict):
                    parts.append(f"{violation.get('field', '')} {violation.get('description', '')}")
    return " ".join(parts)


def _error(answer: Attempt) -> dict[str, Any]:
    """The ``error`` object of Google's JSON error body ({} when there is none)."""
    body = answer.body
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


class CloudLoggingRules(VendorRules):
    """``entries.write`` into one project, for one sink."""

    destination = "Cloud Logging"

    def __init__(self, facts: SinkFacts) -> None:
        self.facts = facts
        endpoint = f"check sinks.{facts.sink}.endpoint ({facts.endpoint or 'the default'}) and any proxy in between"
        self.hints = Hints(
            credentials=_fix("UNAUTHENTICATED", facts),
            privileges=_fix("PERMISSION_DENIED", facts),
            endpoint=endpoint,
            redirect=f"Cloud Logging never sends one: {endpoint}",
            missing_credentials=(
                f"set sinks.{facts.sink}.credentials_file to a service-account key, or provide Application Default "
                "Credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or an "
                "attached service account)"
            ),
            too_large="Cloud Logging's 10 MB request limit",
        )

    def said(self, answer: Attempt) -> str:
        error = _error(answer)
        code = str(error.get("status") or "")
        message = _short(error.get("message") or f"HTTP {answer.status} without a message")
        return f"{answer.status} {code}: {message}" if code else f"{answer.status}: {message}"

    def wait(self, answer: Attempt) -> float | None:
        return _retry_info(_error(answer))

    def success(self, answer: Attempt, items: int) -> Verdict:
        if answer.status == WRITE_OK_STATUS and answer.body == {}:
            return Verdict.delivered()
        if isinstance(answer.body, str | bytes | bytearray) and answer.body:
            return Verdict.sink_error(
                f"the endpoint does not answer like Cloud Logging ({_not_json(answer)}); nothing says the entries were "
                f"written; {self.hints.endpoint}"
            )
        return Verdict.sink_error(
            f"the endpoint answered {_what_came_back(answer)}, which is not how Cloud Logging acknowledges a write "
            f"(HTTP 200 with {{}}); nothing says the entries were written, so they are kept; {self.hints.endpoint}"
        )

    def own(self, answer: Attempt, items: int) -> Verdict | None:
        if is_success(answer.status):
            return None
        error = _error(answer)
        entry_errors = _entry_errors(error)
        if entry_errors:
            return _per_item(entry_errors, items, self.facts)
        code = str(error.get("status") or "")
        said = self.said(answer)
        if code in RETRY_CODES:
            what = "is throttling writes" if code == "RESOURCE_EXHAUSTED" else "did not take the request"
            return Verdict.retry(f"Cloud Logging {what} ({said})")
        if is_retryable(answer.status):  # the status classes retry it, whatever the body's code says
            return None
        if code in ENTRY_SINK_CODES:
            return _about_the_sink(code, said, self.facts)
        message = str(error.get("message") or "")
        if _TOO_LARGE.search(message) is not None:
            if items > 1:
                return Verdict.split(f"request too large for Cloud Logging ({said})")
            return Verdict.reject(f"entry too large for Cloud Logging ({said})")
        if answer.status == BAD_REQUEST_STATUS or code in ENTRY_REJECT_CODES:
            if _CONFIG_FIELDS.search(f"{message} {_violations(error)}"):
                return Verdict.sink_error(
                    f"Cloud Logging rejects the sink's settings ({said}); fix sinks.{self.facts.sink}.resource, "
                    "log_name or labels"
                )
            if items > 1:
                return Verdict.split(f"Cloud Logging rejected the request without naming entries; isolating them ({said})")
            return Verdict.reject(said)
        return None


def classify(answer: Attempt, count: int, now: float, facts: SinkFacts) -> Verdict:
    """The Verdict for one attempt at writing ``count`` entries (see the module docstring)."""
    return classify_attempt(answer, CloudLoggingRules(facts), count, now)


def _per_item(entry_errors: dict[int, dict[str, Any]], count: int, facts: SinkFacts) -> Verdict:
    """One outcome per entry; a code about the sink itself makes the whole request a sink_error."""
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
        else:  # the core gives a retried entry the answer's Retry-After (or RetryInfo)
            items.append(ItemResult("retry", reason))
    return Verdict.per_item(items)


def _not_json(answer: Attempt) -> str:
    """A 2xx body that is not JSON (a proxy or captive portal): its type, size and start."""
    body = answer.body
    data = body.encode() if isinstance(body, str) else bytes(body)
    kind = (answer.content_type or "no Content-Type").split(";")[0]
    start = quote(data[:MAX_SAMPLE_CHARS])
    return f"HTTP {answer.status} with a body that is not JSON ({kind}, {len(data)} bytes: {start!r})"


def _what_came_back(answer: Attempt) -> str:
    """A 2xx that is no write, described by its status and shape: key and status names, never values."""
    reply = answer.body
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


def _fix(code: str, facts: SinkFacts) -> str:
    """What to fix for a code about the sink itself (one of ENTRY_SINK_CODES)."""
    if code == "UNAUTHENTICATED":
        return (
            f"check sinks.{facts.sink}.credentials_file or the Application Default Credentials "
            "(GOOGLE_APPLICATION_CREDENTIALS, the attached service account), and that the key is neither deleted nor "
            "disabled"
        )
    if code == "PERMISSION_DENIED":
        return (
            f"grant the sink's service account {WRITER_ROLE} on project '{facts.project}' and check "
            f"sinks.{facts.sink}.project"
        )
    if code == "NOT_FOUND":
        where = f" and sinks.{facts.sink}.endpoint ({facts.endpoint})" if facts.endpoint else ""
        return f"check sinks.{facts.sink}.project{where}"
    return (
        f"check that sinks.{facts.sink}.project is active and has the Logging API enabled, and that its log bucket is "
        "usable (not locked or deleted, its CMEK key enabled)"
    )


def _about_the_sink(code: str, said: str, facts: SinkFacts) -> Verdict:
    """The sink_error for a code about the sink itself (one of ENTRY_SINK_CODES): what went wrong and what to fix."""
    what = {
        "UNAUTHENTICATED": "Cloud Logging does not accept the credentials",
        "PERMISSION_DENIED": f"permission denied writing to project '{facts.project}'",
        "NOT_FOUND": f"Cloud Logging does not know project '{facts.project}'",
    }.get(code, f"Cloud Logging refuses writes in the current state of project '{facts.project}'")
    return Verdict.sink_error(f"{what} ({said}); {_fix(code, facts)}")
