"""One attempt at a destination as plain data: what every adapter's transport returns (no SDK types).

A transport makes one request and translates whatever happened, at the edge, into an
:class:`Attempt`; :func:`shippers.delivery.classify.classify` reads it::

    Attempt.http(status, body, headers)      an HTTP answer arrived (any status, 2xx included)
    Attempt.failed(kind, detail)             no usable answer; ``kind`` is one of FAILURES

``body`` is the parsed JSON answer (a dict or list) when the transport or its SDK parsed it,
else its text (a proxy's HTML page, a gateway's "Bad Gateway"), else None for an empty body.
A vendor whose SDK parses errors into its own shape hands that shape on (S3's ``{"Code",
"Message"}``). The generic headers the classifier reads have fields of their own; ``headers``
keeps every header, lower-case, for what a vendor reads besides (an ETag, a bucket's region).

The failure kinds form a closed set; what the common classifier makes of each::

    connection             no answer: refused, reset, DNS, a proxy hanging up     -> retry
    timeout                no answer within the sink's attempt timeout            -> retry
    tls                    the TLS handshake or the certificate check failed      -> sink_error
    unreadable             an answer came but could not be read (not JSON/UTF-8)  -> retry
    request                the client could not build the request with these      -> sink_error
                           settings (e.g. a header value it refuses); the detail
                           never quotes the request, which may hold a secret
    refused                the client refused the request's content before        -> split; one item: reject
                           sending it (its own validation of the items)
    product                the server is not the product the sink talks to        -> sink_error
    credentials            no usable credentials to sign or authenticate with     -> sink_error
    credentials_transient  credentials could not be fetched now (token endpoint   -> retry
                           unreachable, a refresh the provider says to retry)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Failure = Literal[
    "connection", "timeout", "tls", "unreadable", "request", "refused", "product", "credentials",
    "credentials_transient",
]
FAILURES: frozenset[str] = frozenset(get_args(Failure))


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt got back, free of SDK types."""

    status: int | None = None  # the HTTP status; None when no HTTP answer arrived
    body: Any = None  # the parsed JSON answer, else its text, else None (see the module docstring)
    retry_after: str | None = None  # the Retry-After header as sent
    date: str | None = None  # the Date header (an HTTP-date Retry-After is measured from it)
    content_type: str | None = None  # the Content-Type header (says what a non-JSON body is)
    location: str | None = None  # the Location header of a redirect
    headers: Mapping[str, str] = field(default_factory=dict)  # every header, lower-case names
    failure: Failure | None = None  # why no usable answer arrived
    detail: str = ""  # what went wrong, for a failure (an SDK's message, never a secret)

    @classmethod
    def http(cls, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Attempt:
        """An HTTP answer; the generic headers are picked out of ``headers`` (any letter case)."""
        if not headers:
            return cls(status, body)
        lowered = {str(name).lower(): str(value) for name, value in headers.items()}
        return cls(
            status,
            body,
            retry_after=lowered.get("retry-after"),
            date=lowered.get("date"),
            content_type=lowered.get("content-type"),
            location=lowered.get("location"),
            headers=lowered,
        )

    @classmethod
    def failed(cls, kind: Failure, detail: str = "") -> Attempt:
        """No usable answer: one of the FAILURES, with what went wrong."""
        return cls(failure=kind, detail=detail)

    @property
    def answered(self) -> bool:
        """True when an HTTP answer arrived (whatever its status)."""
        return self.failure is None and self.status is not None
