"""The common classifier: one :class:`~shippers.delivery.attempt.Attempt` -> a Verdict, the generic part once.

An adapter supplies only its vendor's own part, a :class:`VendorRules`: how to read its success,
its own codes, how to quote what its server said, and what to fix (:class:`Hints`). The order,
first match wins::

    no answer (a failure kind)   -> by kind (see shippers.delivery.attempt): retry, sink_error, split
    vendor.own(answer, items)    -> the vendor's own codes, before any status class (S3's SlowDown or
                                    412, Cloud Logging's per-entry errors, Datadog's 400...)
    2xx                          -> vendor.success(answer, items): only the documented success acks
    3xx                          -> sink_error saying where it pointed (no query, no user info): every
                                    transport has redirects off (a POST turned GET would look like a write)
    408, 429, 5xx                -> retry
    413                          -> split; a single item -> reject
    401                          -> sink_error: the credentials (hints.credentials)
    403                          -> sink_error: the privileges (hints.privileges)
    other 1xx / 4xx              -> sink_error: our requests are well formed, so the endpoint, a proxy or
                                    a setting is wrong (hints.endpoint); nothing is dead-lettered

Retry-After is honoured for every retry: a retry verdict, or a retried item, that carries no wait
of its own gets the answer's ``Retry-After`` (delta-seconds or an HTTP date measured from the
answer's ``Date``), else the vendor's own hint (:meth:`VendorRules.wait`: RetryInfo,
X-Ratelimit-Reset). Reasons are redacted, folded and cut where they leave the adapter
(:mod:`shippers.redact`, applied by :class:`adapters.contract.Adapter`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from adapters.contract import ItemResult, Verdict
from shippers.delivery.attempt import Attempt
from shippers.quoting import folded
from shippers.retry_after import parse_retry_after

# Why: 408 is a proxy's or the server's request timeout and 429 a throttle (RFC 9110, RFC 6585);
# every 5xx is the server's own trouble. Each clears by itself, so the request is sent again.
RETRY_STATUSES = frozenset({408, 429})
SERVER_ERROR_FLOOR = 500
TOO_LARGE_STATUS = 413
UNAUTHORIZED_STATUS = 401
FORBIDDEN_STATUS = 403
# Why: what a server said is quoted this far, whitespace folded: enough to recognise a proxy's
# page or a gateway's text, short enough for a status line.
MAX_QUOTED_CHARS = 200
# Why: a redirect target is named (path included) so a person sees where a proxy sends us; longer is noise.
MAX_LOCATION_CHARS = 200


@dataclass(frozen=True, slots=True)
class Hints:
    """What to fix, per generic class, in the vendor's words (each ends a reason)."""

    credentials: str = "check this sink's credentials"  # 401
    privileges: str = "grant these credentials the right to write"  # 403
    endpoint: str = "check this sink's endpoint and any proxy in between"  # other 4xx, 3xx
    redirect: str | None = None  # 3xx, when it says more than ``endpoint``
    tls: str = "check the CA bundle and the host name"
    request: str = "check this sink's settings"
    product: str = "check this sink's endpoint"
    missing_credentials: str = "give the process credentials for this destination"
    too_large: str = "the destination's request size limit"
    timeout_key: str = "request_timeout"  # the key that sets the attempt timeout, named in a timeout's reason
    # A pause for sink_errors a person must fix in the credentials (401, 403, a request that cannot
    # be built, no credentials): None leaves it to the core's long sink_error backoff.
    credentials_retry_after: float | None = None


class VendorRules:
    """One destination's own part of classification: subclass it and override what differs.

    ``destination`` names the far end in reasons ("the cluster", "S3"); ``hints`` says what to fix.
    """

    destination: str = "the destination"
    hints: Hints = Hints()

    def success(self, answer: Attempt, items: int) -> Verdict:
        """The Verdict for a 2xx: the vendor's documented success acknowledges, anything else is kept."""
        raise NotImplementedError

    def own(self, answer: Attempt, items: int) -> Verdict | None:
        """The vendor's own codes, read before any status class; None leaves the answer to the status classes."""
        return None

    def said(self, answer: Attempt) -> str:
        """What the server said, starting with the status (``503 cluster_block_exception: no master``)."""
        quoted = quote(answer.body)
        return f"{answer.status} {quoted}" if quoted else str(answer.status)

    def wait(self, answer: Attempt) -> float | None:
        """The vendor's own retry hint beside Retry-After (seconds), or None."""
        return None


def classify(answer: Attempt, vendor: VendorRules, items: int, now: float) -> Verdict:
    """The Verdict for one attempt that carried ``items`` items (see the module docstring); ``now`` is the wall clock."""
    if not answer.answered:
        verdict = _no_answer(answer, vendor, items)
    else:
        verdict = vendor.own(answer, items)
        if verdict is None:
            verdict = _by_status(answer, vendor, items)
    return _with_wait(verdict, answer, vendor, now)


def is_success(status: int | None) -> bool:
    """A 2xx (for vendors that read statuses per item, like Elasticsearch's bulk items)."""
    return status is not None and 200 <= status < 300


def is_retryable(status: int | None) -> bool:
    """408, 429 or 5xx: a status that clears by itself (for per-item statuses and vendor code tables)."""
    return status is not None and (status in RETRY_STATUSES or status >= SERVER_ERROR_FLOOR)


def retry_wait(answer: Attempt, vendor: VendorRules, now: float) -> float | None:
    """Seconds the answer asks us to wait: Retry-After (seconds or HTTP date), else the vendor's hint."""
    wait = parse_retry_after(answer.retry_after, now, answer.date)
    return wait if wait is not None else vendor.wait(answer)


def quote(body: Any, limit: int = MAX_QUOTED_CHARS) -> str:
    """A body as a short line: text folded and cut, JSON compact; "" for an empty body."""
    if body is None:
        return ""
    if isinstance(body, bytes | bytearray):
        text = bytes(body).decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:
        try:
            text = msgspec.json.encode(body).decode()
        except (TypeError, msgspec.EncodeError):
            text = repr(body)
    return folded(text, limit)


def where(location: str | None) -> str:
    """A redirect target without its query, fragment or user info (they may carry tokens), briefly."""
    if not location:
        return ""
    try:
        parts = urlsplit(location.strip())
    except ValueError:
        return ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    shown = f"{parts.scheme}://{host}{parts.path}" if parts.scheme and host else parts.path
    return folded(shown, MAX_LOCATION_CHARS)


# -- the generic classes --------------------------------------------------------------------------------


def _no_answer(answer: Attempt, vendor: VendorRules, items: int) -> Verdict:
    """The Verdict for an attempt that got no usable HTTP answer, by its failure kind."""
    dest, hints = vendor.destination, vendor.hints
    detail = answer.detail or answer.failure or "no answer"
    kind = answer.failure
    if kind == "timeout":
        return Verdict.retry(f"{dest} did not answer in time, within {hints.timeout_key} ({detail})")
    if kind == "tls":
        return Verdict.sink_error(f"TLS to {dest} failed ({detail}); {hints.tls}")
    if kind == "unreadable":
        return Verdict.retry(
            f"the answer from {dest} could not be read ({detail}): not JSON, or not UTF-8; is a proxy answering instead?"
        )
    if kind == "request":
        return Verdict.sink_error(
            f"the client could not build the request to {dest} ({detail}); {hints.request}", hints.credentials_retry_after
        )
    if kind == "refused":
        if items > 1:
            return Verdict.split(f"the client refused the request to {dest} ({detail}); splitting it to isolate the item")
        return Verdict.reject(f"the client refused this item ({detail})")
    if kind == "product":
        return Verdict.sink_error(f"{dest} is not the product this sink talks to ({detail}); {hints.product}")
    if kind == "credentials":
        return Verdict.sink_error(
            f"no usable credentials for {dest} ({detail}); {hints.missing_credentials}", hints.credentials_retry_after
        )
    if kind == "credentials_transient":
        return Verdict.retry(f"could not get credentials for {dest} now ({detail})")
    return Verdict.retry(f"cannot reach {dest} ({detail})")  # connection, and a status-less answer


def _by_status(answer: Attempt, vendor: VendorRules, items: int) -> Verdict:
    """The Verdict for an HTTP answer the vendor's own codes left to the status classes."""
    status = answer.status
    assert status is not None  # answered
    if is_success(status):
        return vendor.success(answer, items)
    dest, hints = vendor.destination, vendor.hints
    if 300 <= status < 400:
        target = where(answer.location)
        pointed = f" to {target}" if target else ""
        return Verdict.sink_error(
            f"{dest} answered with a redirect (HTTP {status}{pointed}), which the sink never follows; "
            f"{hints.redirect or hints.endpoint}"
        )
    said = vendor.said(answer)
    if is_retryable(status):
        what = "throttled" if status == 429 else "timed out" if status == 408 else "unavailable"
        return Verdict.retry(f"{dest} answered {said} ({what}); retrying")
    if status == TOO_LARGE_STATUS:
        if items > 1:
            return Verdict.split(f"{dest} answered {said}: the request is over {hints.too_large}; splitting it")
        return Verdict.reject(f"{dest} answered {said}: this item alone is over {hints.too_large}")
    if status == UNAUTHORIZED_STATUS:
        return Verdict.sink_error(
            f"{dest} answered {said}: authentication failed; {hints.credentials}", hints.credentials_retry_after
        )
    if status == FORBIDDEN_STATUS:
        return Verdict.sink_error(f"{dest} answered {said}: not allowed; {hints.privileges}", hints.credentials_retry_after)
    return Verdict.sink_error(f"{dest} refused the request ({said}); {hints.endpoint}")


def _with_wait(verdict: Verdict, answer: Attempt, vendor: VendorRules, now: float) -> Verdict:
    """Give a retry verdict, or its retried items, the answer's wait when they carry none of their own."""
    if verdict.kind == "retry":
        if verdict.retry_after is not None:
            return verdict
        wait = retry_wait(answer, vendor, now)
        return verdict if wait is None else dataclasses.replace(verdict, retry_after=wait)
    if verdict.kind != "per_item":
        return verdict
    wait = retry_wait(answer, vendor, now)
    if wait is None:
        return verdict
    items = tuple(
        ItemResult(i.outcome, i.reason, wait) if i.outcome == "retry" and i.retry_after is None else i for i in verdict.items
    )
    return dataclasses.replace(verdict, items=items)
