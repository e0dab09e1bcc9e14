"""What one attempt at ``POST /api/v2/logs`` means for the core: a pure map to a :class:`Verdict`.

The transport hands over one of four plain values (never an SDK object)::

    Reply(status, headers, body)   the intake answered
    Unreachable(reason)            no answer: connection refused/reset, timeout, TLS failure
    Refused(reason)                the SDK would not build the request (a log failed its type checks),
                                   raised before anything was sent
    Unsendable(reason)             the request cannot be sent with these settings (e.g. an API key
                                   that is not a valid header value); the reason holds no secret

and this module decides (Logs API v2 reference; CONTRACTS.md)::

    202                   delivered (the only success the Logs API documents; its body is not read)
    any other 2xx         sink_error "check site/endpoint": 200, 201, 204 come from a proxy or another
                          API (v1 intake, a gateway), never from the v2 Logs intake; every event is kept
    408, 429, 5xx         retry, after Retry-After (seconds or HTTP date) or X-Ratelimit-Reset
    413                   split (our encoder keeps requests under 5 MB, so only a changed limit gets here)
    400                   split (to isolate the log), reject when it is alone: the SDK builds the body,
                          so a 400 for many logs is more likely a proxy or a wrong endpoint than one bad log
    401, 403              sink_error "check the API key": every event is kept, retried after a long pause
    3xx, 404, 405,        sink_error "check site/endpoint": that URL is not a Logs intake (the intake never
      other 4xx           redirects); every event is kept
    Unreachable           retry
    Refused               split (to isolate the log), reject when it is alone
    Unsendable            sink_error: a setting must be fixed; every event is kept

Reasons never include the API key (the transport never passes it here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.contract import Verdict
from adapters.datadog.config import AUTH_RETRY_AFTER_SECONDS
from shippers.retry_after import parse_retry_after

# Why: the statuses the API reference says "should be retried after some time" (5xx generalised).
RETRY_STATUSES = frozenset({408, 429})
# Why: an error body is for people; 300 characters is enough to say what went wrong.
MAX_BODY_CHARS = 300
# Why: the Logs API v2 reference: "202 Response from server (always 202 empty JSON)".
ACCEPTED_STATUS = 202


@dataclass(frozen=True, slots=True)
class Reply:
    """The intake's answer to one request."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No HTTP answer at all."""

    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The SDK refused to send the request (client-side validation)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unsendable:
    """The request cannot be sent with the sink's settings (never carries a secret)."""

    reason: str


Attempt = Reply | Unreachable | Refused | Unsendable


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait: ``Retry-After`` (seconds or HTTP date), else ``X-Ratelimit-Reset`` (seconds)."""
    hinted = parse_retry_after(_header(headers, "Retry-After"), now, _header(headers, "Date"))
    if hinted is not None:
        return hinted
    reset = _header(headers, "X-Ratelimit-Reset")
    if reset is not None:
        try:
            return max(0.0, float(reset.strip()))
        except ValueError:
            return None
    return None


def _said(reply: Reply) -> str:
    body = " ".join(reply.body.split())[:MAX_BODY_CHARS]
    return f"Datadog answered {reply.status}" + (f": {body}" if body else "")


def classify(attempt: Attempt, *, now: float, item_count: int, intake: str) -> Verdict:
    """The Verdict for one attempt that carried ``item_count`` logs to ``intake`` (a URL without secrets)."""
    if isinstance(attempt, Unreachable):
        return Verdict.retry(f"cannot reach the Datadog intake at {intake}: {attempt.reason}")
    if isinstance(attempt, Refused):
        if item_count > 1:
            return Verdict.split(f"the Datadog client refused the request ({attempt.reason}); isolating the log")
        return Verdict.reject(f"the Datadog client refused this log: {attempt.reason}")
    if isinstance(attempt, Unsendable):
        return Verdict.sink_error(
            f"cannot send to the Datadog intake at {intake}: {attempt.reason}; events are kept", AUTH_RETRY_AFTER_SECONDS
        )

    status = attempt.status
    if status == ACCEPTED_STATUS:
        return Verdict.delivered()
    if 200 <= status < 300:
        return Verdict.sink_error(
            f"Datadog answered HTTP {status}, but the Logs intake accepts logs with 202 only: {intake} is not a "
            "Datadog Logs intake (a proxy, a gateway or another API?); nothing says the logs were taken, so they "
            "are kept; check site / endpoint"
        )
    if status in RETRY_STATUSES or 500 <= status < 600:
        what = "throttled" if status == 429 else "unavailable"
        return Verdict.retry(f"{_said(attempt)} ({what}); retrying", retry_after(attempt.headers, now))
    if status == 413:
        return Verdict.split(f"{_said(attempt)} (payload too large); splitting the request")
    if status == 400:
        if item_count > 1:
            return Verdict.split(
                f"{_said(attempt)} (bad request for {item_count} logs; if every log is refused, check for a proxy "
                f"or a wrong site/endpoint at {intake}); splitting to isolate the log"
            )
        return Verdict.reject(f"{_said(attempt)} (bad request); Datadog will never accept this log")
    if status in (401, 403):
        return Verdict.sink_error(
            f"{_said(attempt)}: check the API key (api_key or DD_API_KEY) and that it belongs to the "
            f"configured site ({intake}); events are kept and retried",
            AUTH_RETRY_AFTER_SECONDS,
        )
    if 300 <= status < 400:
        where = _header(attempt.headers, "Location")
        moved = f" (redirected to {where.split('?')[0][:MAX_BODY_CHARS]})" if where else ""
        return Verdict.sink_error(
            f"Datadog answered {status}{moved}: the Logs intake never redirects, so {intake} is not one; "
            "check site / endpoint; events are kept"
        )
    if 400 <= status < 500:
        return Verdict.sink_error(
            f"{_said(attempt)}: {intake} is not answering like a Datadog Logs intake; check site / endpoint "
            "(and any proxy in between); events are kept"
        )
    return Verdict.retry(f"{_said(attempt)} (unexpected); retrying", retry_after(attempt.headers, now))
