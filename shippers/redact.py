"""Reasons as they leave an adapter: secrets redacted, whitespace folded, cut short. One redactor per sink.

Every Verdict reason (and every per-item reason) passes through :meth:`Redactor.clean`, applied by
:class:`adapters.contract.Adapter` to whatever ``open`` and ``send`` return, so no adapter has to
remember it. What a sink's redactor removes:

- its configured secrets, found generically by :func:`secrets_in`: the value of every config key
  named like a secret (``*key``, ``*token``, ``password``, ``secret``...), in nested tables too;
  the ``user:password`` part of any URL in the config (and the password alone); the base64 forms
  clients send in headers (``Basic`` of ``username:password``, ``ApiKey`` of ``id:secret``);
- the values of the environment variables the adapter names (``secret_env``: ``DD_API_KEY``,
  ``AWS_SECRET_ACCESS_KEY``...), read when redacting, since SDKs read them too;
- whatever looks like a credential, configured or not: ``Authorization: <scheme> <value>`` and
  api-key headers, ``Basic``/``Bearer``/``ApiKey`` tokens, secret query parameters
  (``?token=``, ``X-Amz-Signature=``...) and ``//user:password@`` in URLs.

Redaction comes first (on the raw text, so a cut never leaves half a secret showing), then
whitespace is folded and the reason cut to MAX_REASON_CHARS.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from shippers.quoting import folded

MARK = "[redacted]"
# Why: a reason is a status line and a DLQ column: room for a server's words (vendors quote at most
# 1000 characters of them) and what to fix; anything longer is a page nobody reads in a status line.
MAX_REASON_CHARS = 2000
# Why: sink configs nest a table or two (aws_sigv4, resource); the bound only guards against cycles.
_MAX_DEPTH = 8

# Config keys whose values are secrets: api_key, bearer_token, password, client_secret, hash_key...
_SECRET_NAME = re.compile(r"(?:^|_)(?:key|password|passwd|passphrase|secret|token)$", re.IGNORECASE)
# The user-info part of a URL: scheme://user:password@host.
_USERINFO = re.compile(r"//([^/\s@\"'<>]+)@")
_HEADER_NAMES = (
    r"(?:proxy-)?authorization|x-api-key|api-key|dd-api-key|dd-application-key|x-goog-api-key"
    r"|x-amz-security-token|private-token|x-auth-token"
)
_PARAM_NAMES = (
    r"access_token|id_token|refresh_token|token|api_key|apikey|api-key|password|passwd|client_secret|secret"
    r"|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token"
)
_LOOKS_SECRET = re.compile(
    # a header and its value, an optional scheme included: "Authorization: Bearer abc", "'dd-api-key': 'abc'"
    rf"(?P<header>\b(?:{_HEADER_NAMES})[\"']?\s*[:=]\s*[\"']?)(?:[A-Za-z0-9-]+\s+)?[^\s\"',;)}}\]]+"
    # a token after an auth scheme, when it looks like one (a digit or a base64/JWT character in it)
    r"|(?P<scheme>\b(?:Basic|Bearer|ApiKey|Token|Negotiate)\s+)(?=[A-Za-z._~+/-]*[0-9._~+/=-])[A-Za-z0-9._~+/-]{8,}=*"
    # a secret parameter of a query string or a header's parameter list: "?token=abc", "Signature=abc"
    rf"|(?P<param>(?<![\w-])(?:{_PARAM_NAMES})=|[?&;]key=)[^&#\s\"',;)]+"
    # user info in a URL
    r"|(?P<userinfo>//)[^/\s@\"'<>]+@",
    re.IGNORECASE,
)


def _keep_name(match: re.Match[str]) -> str:
    prefix = match.group("header") or match.group("scheme") or match.group("param") or match.group("userinfo")
    return f"{prefix}{MARK}" + ("@" if match.group("userinfo") else "")


class Redactor:
    """Cleans reasons for one sink: ``clean(text)`` redacts, folds whitespace and cuts (see the module docstring)."""

    def __init__(self, secrets: Iterable[str] = (), secret_env: Iterable[str] = ()) -> None:
        # Longest first, so "user:password" goes whole before "password" alone would split it.
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        self._secret_env = tuple(secret_env)

    def add(self, *secrets: str) -> None:
        """Remove these values too (a secret the sink holds outside its config)."""
        self._secrets = tuple(sorted({*self._secrets, *(s for s in secrets if s)}, key=len, reverse=True))

    def secrets(self) -> tuple[str, ...]:
        """The values removed from every reason: configured secrets and the named environment variables."""
        from_env = [value for name in self._secret_env if (value := os.environ.get(name, "").strip())]
        if not from_env:
            return self._secrets
        return tuple(sorted({*self._secrets, *from_env}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` without this sink's secrets or anything that looks like a credential (not folded or cut)."""
        if not text:
            return text
        for secret in self.secrets():
            if secret in text:
                text = text.replace(secret, MARK)
        if _LOOKS_SECRET.search(text) is not None:
            text = _LOOKS_SECRET.sub(_keep_name, text)
        return text

    def clean(self, text: str) -> str:
        """A reason as it may be shown and stored: redacted, whitespace folded, at most MAX_REASON_CHARS."""
        if not text:
            return text
        return folded(self.redact(text), MAX_REASON_CHARS)


def secrets_in(config: Any) -> tuple[str, ...]:
    """Every secret a sink's config holds, found by key names and URLs (see the module docstring)."""
    found: list[str] = []
    _collect(config, "", found, 0)
    derived = [base64.b64encode(s.encode()).decode() for s in found if ":" in s]  # ApiKey / Basic header forms
    return tuple(dict.fromkeys(s for s in (*found, *derived) if s))


def _collect(value: Any, name: str, found: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        if _SECRET_NAME.search(name):
            found.append(value)
        for match in _USERINFO.finditer(value):
            userinfo = match.group(1)
            found.append(userinfo)
            if ":" in userinfo:
                found.append(userinfo.split(":", 1)[1])
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, str(key), found, depth + 1)
        return
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, name, found, depth + 1)
        return
    fields = _fields(value)
    if not fields:
        return
    for field in fields:
        _collect(getattr(value, field, None), field, found, depth + 1)
    username, password = getattr(value, "username", None), getattr(value, "password", None)
    if isinstance(username, str) and isinstance(password, str) and username and password:
        found.append(f"{username}:{password}")  # what a Basic header encodes


def _fields(value: Any) -> tuple[str, ...]:
    if isinstance(value, msgspec.Struct):
        return value.__struct_fields__
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(f.name for f in dataclasses.fields(value))
    return ()
