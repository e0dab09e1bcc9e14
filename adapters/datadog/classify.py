"""What one attempt at ``POST /api/v2/logs`` means for the core: a pure map to a :class:`Verdict`.

The transport hands over one of three plain values (never an SDK object)::

    Reply(status, headers, body)   the intake answered
    Unreachable(reason)            no answer: connection refused/reset, timeout, TLS failure
    Refused(reason)                the SDK would not build the request (a log failed its type checks)

and this module decides (Logs API v2 reference; CONTRACTS.md)::

    2xx (202)             delivered
    408, 429, 5xx         retry, after Retry-After (seconds or HTTP date) or X-Ratelimit-Reset
    413                   split (our encoder keeps requests under 5 MB, so only a changed limit gets here)
    400                   reject: the intake calls the payload malformed; resending cannot help
    401, 403              sink_error "check the API key": every event is kept, retried after a long pause
    404, 405              sink_error "check site/endpoint": that URL is not a Logs intake
    other 4xx             retry: unknown to the API reference, so never a reason to drop events
    Unreachable           retry
    Refused               split (to isolate the log), reject when it is alone

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


Attempt = Reply | Unreachable | Refused


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait: ``Retry-After`` (seconds or HTTP date), else ``X-Ratelimit-Reset`` (seconds)."""
    hinted = parse_retry_after(_header(headers, "Retry-After"), now)
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

    status = attempt.status
    if 200 <= status < 300:
        return Verdict.delivered()
    if status in RETRY_STATUSES or 500 <= status < 600:
        what = "throttled" if status == 429 else "unavailable"
        return Verdict.retry(f"{_said(attempt)} ({what}); retrying", retry_after(attempt.headers, now))
    if status == 413:
        return Verdict.split(f"{_said(attempt)} (payload too large); splitting the request")
    if status == 400:
        return Verdict.reject(f"{_said(attempt)} (bad request); Datadog will never accept this payload")
    if status in (401, 403):
        return Verdict.sink_error(
            f"{_said(attempt)}: check the API key (api_key or DD_API_KEY) and that it belongs to the "
            f"configured site ({intake}); events are kept and retried",
            AUTH_RETRY_AFTER_SECONDS,
        )
    if status in (404, 405):
        return Verdict.sink_error(
            f"{_said(attempt)}: {intake} is not a Datadog Logs intake; check site or endpoint; events are kept"
        )
    return Verdict.retry(f"{_said(attempt)} (unexpected); retrying", retry_after(attempt.headers, now))
