"""Bearer-token checks for the sidecar, in constant time, and which paths need a token.

The accepted tokens are ``[server] token``, ``tokens`` and the lines of ``token_file``
(:func:`shippers.config.resolve_tokens`); several may be valid at once so a token is rotated
without downtime. A presented token is compared with *every* accepted one by
:func:`hmac.compare_digest` and the results are combined without short-circuiting, so the
time taken says nothing about which token (or which prefix) came close.

Tokens are never logged, echoed in an error or put in a metric label.
"""

from __future__ import annotations

import hmac
import ipaddress

# Why: liveness, readiness and Prometheus scraping must work for kubelet and scrapers
# that carry no secret (DESIGN.md: "need no token").
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Why: RFC 6750 section 2.1: the scheme name is case-insensitive.
_BEARER = "bearer"
# Why: names that always mean this host; anything else might be reachable from outside.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def needs_token(path: str, tokens: list[str]) -> bool:
    """Whether a request to ``path`` must carry a token under this configuration."""
    return bool(tokens) and path not in OPEN_PATHS


def presented_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None if there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != _BEARER:
        return None
    token = token.strip()
    return token or None


def token_matches(presented: str, tokens: list[str]) -> bool:
    """True if ``presented`` equals one of ``tokens``; compares with all of them, in constant time each."""
    given = presented.encode("utf-8", "surrogateescape")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given, token.encode("utf-8", "surrogateescape"))
    return matched


def check_request(path: str, authorization: str | None, tokens: list[str]) -> str | None:
    """None when the request may go on, else the 401 message (what was wrong and what to do)."""
    if not needs_token(path, tokens):
        return None
    presented = presented_token(authorization)
    if presented is None:
        return "missing bearer token; send the header 'Authorization: Bearer <token>' with a token from [server] token/tokens/token_file"
    if not token_matches(presented, tokens):
        return "invalid bearer token; use one of the tokens configured in [server] token/tokens/token_file"
    return None


def is_loopback(host: str) -> bool:
    """Whether a listen host only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to a public address
