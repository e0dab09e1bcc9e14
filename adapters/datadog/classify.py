"""Datadog's own part of classifying one ``POST /api/v2/logs`` attempt (pure).

The common classifier (:mod:`shippers.delivery.classify`) owns the generic part: failures
without an answer (a connection error retries; a request the client cannot build is a
sink_error; logs the SDK refuses are split to isolate the one, rejected when alone),
redirects, 408/429/5xx with Retry-After, 413, 401/403, other 4xx. This module adds what only
the Logs intake means (Logs API v2 reference; CONTRACTS.md)::

    202                   delivered (the only success the Logs API documents; its body is not read)
    any other 2xx         sink_error "check site/endpoint": 200, 201, 204 come from a proxy or another
                          API (v1 intake, a gateway), never from the v2 Logs intake; every event is kept
    400                   split (to isolate the log), reject when it is alone: the SDK builds the body,
                          so a 400 for many logs is more likely a proxy or a wrong endpoint than one bad log
    X-Ratelimit-Reset     the wait when the answer carries no Retry-After
    401, 403, a request   sink_error "check the API key", retried after AUTH_RETRY_AFTER_SECONDS
      that cannot be built
    3xx, other 4xx        sink_error "check site / endpoint": the intake never redirects

Reasons never include the API key (the transport never passes it here, and the core redacts it).
"""

from __future__ import annotations

from functools import lru_cache

from adapters.contract import Verdict
from adapters.datadog.config import AUTH_RETRY_AFTER_SECONDS
from shippers.delivery.attempt import Attempt
from shippers.delivery.classify import Hints, VendorRules
from shippers.delivery.classify import classify as classify_attempt
from shippers.quoting import folded

# Why: an error body is for people; 300 characters is enough to say what went wrong.
MAX_BODY_CHARS = 300
# Why: the Logs API v2 reference: "202 Response from server (always 202 empty JSON)".
ACCEPTED_STATUS = 202
# Why: the Logs API answers 400 for a payload it cannot parse; our SDK-built bodies are well
# formed, so only a bad log (or something in front of the intake) earns one.
BAD_REQUEST_STATUS = 400
# Why: Datadog's rate-limit headers: seconds until the current window resets.
RATE_LIMIT_RESET_HEADER = "x-ratelimit-reset"


class DatadogRules(VendorRules):
    """The Logs intake at one URL (without secrets)."""

    def __init__(self, intake: str) -> None:
        self.intake = intake
        self.destination = f"the Datadog intake at {intake}"
        endpoint = f"{intake} is not answering like a Datadog Logs intake; check site / endpoint (and any proxy in between); events are kept"
        key = (
            f"check the API key (api_key or DD_API_KEY) and that it belongs to the configured site ({intake}); "
            "events are kept and retried"
        )
        self.hints = Hints(
            credentials=key,
            privileges=key,
            endpoint=endpoint,
            redirect=f"the Logs intake never redirects, so {intake} is not one; check site / endpoint; events are kept",
            request=f"events are kept; {key}",
            too_large="the intake's 5 MB payload limit",
            credentials_retry_after=AUTH_RETRY_AFTER_SECONDS,
        )

    def said(self, answer: Attempt) -> str:
        body = answer.body if isinstance(answer.body, str) else ""
        text = folded(body, MAX_BODY_CHARS)
        return f"{answer.status}" + (f": {text}" if text else "")

    def success(self, answer: Attempt, items: int) -> Verdict:
        if answer.status == ACCEPTED_STATUS:
            return Verdict.delivered()
        return Verdict.sink_error(
            f"Datadog answered HTTP {answer.status}, but the Logs intake accepts logs with 202 only: {self.intake} is "
            "not a Datadog Logs intake (a proxy, a gateway or another API?); nothing says the logs were taken, so they "
            "are kept; check site / endpoint"
        )

    def own(self, answer: Attempt, items: int) -> Verdict | None:
        if answer.status != BAD_REQUEST_STATUS:
            return None
        said = f"Datadog answered {self.said(answer)}"
        if items > 1:
            return Verdict.split(
                f"{said} (bad request for {items} logs; if every log is refused, check for a proxy "
                f"or a wrong site/endpoint at {self.intake}); splitting to isolate the log"
            )
        return Verdict.reject(f"{said} (bad request); Datadog will never accept this log")

    def wait(self, answer: Attempt) -> float | None:
        reset = answer.headers.get(RATE_LIMIT_RESET_HEADER)
        if reset is None:
            return None
        try:
            return max(0.0, float(reset.strip()))
        except ValueError:
            return None


@lru_cache(maxsize=64)  # Why: one intake per sink; the rules are immutable, so they are built once
def rules_for(intake: str) -> DatadogRules:
    return DatadogRules(intake)


def classify(attempt: Attempt, *, now: float, item_count: int, intake: str) -> Verdict:
    """The Verdict for one attempt that carried ``item_count`` logs to ``intake`` (a URL without secrets)."""
    return classify_attempt(attempt, rules_for(intake), item_count, now)
