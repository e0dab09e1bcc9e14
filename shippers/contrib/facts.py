"""What a request says about an auth event (ip, user agent, trace id, tenant), and field values made safe.

Everything here comes from the client or the app, so nothing is trusted: an address that is not an
IP, a user agent of a megabyte, a username typed into the email box. Each helper returns a value
that fits the core's limits (:mod:`shippers.event`) or None, so a strange header costs that one
field, never the login's event. Values are only ever put in event fields, never in a log line or
a metric label.

The ip is the address the framework reports (``REMOTE_ADDR``, ``request.remote_addr``,
``request.client.host``); behind a proxy, let the framework or server resolve forwarded headers
(a Django middleware that sets ``REMOTE_ADDR`` from your proxy's header, werkzeug's ``ProxyFix``,
uvicorn's ``--proxy-headers``): a header the client can write is not read here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from shippers.event import MAX_EMAIL_CHARS, MAX_STRING_CHARS, MAX_USER_AGENT_CHARS

# Why: the core's email check (name@domain.tld, no spaces); a value that fails it is left out, not shipped.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# W3C Trace Context: version-traceid-parentid-flags; the trace id is 32 hex digits, not all zero.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Why: a header longer than this is not a traceparent (55 chars); it is not even looked at.
_MAX_TRACEPARENT_CHARS = 512


@dataclass(frozen=True)
class RequestFacts:
    """The request's part of every event: each value already safe (or None)."""

    ip: str | None = None
    user_agent: str | None = None
    trace_id: str | None = None
    tenant_id: str | None = None

    def fields(self) -> dict[str, str]:
        """The wire fields these facts fill."""
        named = {"ip": self.ip, "userAgent": self.user_agent, "traceId": self.trace_id, "tenantId": self.tenant_id}
        return {k: v for k, v in named.items() if v is not None}


NO_REQUEST = RequestFacts()


def client_ip(value: Any) -> str | None:
    """An IPv4 or IPv6 address as text, or None (a unix socket, "testclient", garbage)."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))  # a zone id (fe80::1%eth0) is the host's, not the client's
    except ValueError:
        return None


def user_agent(value: Any) -> str | None:
    """The User-Agent header cut to the core's limit, control characters replaced."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _CONTROL.sub(" ", value[:MAX_USER_AGENT_CHARS])


def trace_id(traceparent: Any) -> str | None:
    """The trace id of a W3C ``traceparent`` header, or None."""
    if not isinstance(traceparent, str) or len(traceparent) > _MAX_TRACEPARENT_CHARS:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)


def email(value: Any) -> str | None:
    """An email-shaped string within the core's limit, else None (a username is not an email)."""
    if not isinstance(value, str) or len(value) > MAX_EMAIL_CHARS or not _EMAIL.match(value):
        return None
    return value


def identifier(value: Any) -> str | None:
    """An id (user, tenant) as text within the core's limit, else None: a cut id would name someone else."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value)
    if not text or len(text) > MAX_STRING_CHARS or _CONTROL.search(text):
        return None
    return text
