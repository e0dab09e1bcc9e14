"""A small, dependency-free client for a running sidecar (``authlog send``, producers, tests).

::

    client = Client("http://127.0.0.1:8787", token=os.environ.get("AUTHLOG_TOKEN"))
    result = client.send([{"id": "...", "type": "login.completed", "userId": "u-7"}])
    result.accepted, result.rejected        # 202 and 422 both return a SendResult

It speaks HTTP/1.1 over keep-alive connections (``http.client``, one per calling thread, so a
Client may be shared by a web app's worker threads) and retries what may succeed later, with
tenacity:

- connection refused/reset, timeouts, 5xx and 503: retried with exponential backoff and full
  jitter; a ``Retry-After`` from the sidecar (503 when a sink is full) is honoured (capped),
- 400/401/413/415 and other 4xx: never retried (the request itself is wrong):
  :class:`RequestRejected` with the sidecar's message; nor is a TLS certificate that does not verify,
- when the attempts run out: :class:`SidecarUnavailable` with the last cause.

A resend after a lost answer can store an event twice: send your own ``id`` so the
destinations that can deduplicate do. ``sleep`` is injectable so tests never wait.
"""

from __future__ import annotations

import gzip as gzip_module
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

import msgspec
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shippers.retry_after import parse_retry_after

# Why: with the default backoff, 8 attempts span ~20 s: long enough to ride out a sidecar
# restart, short enough that a producer with no sidecar finds out quickly.
DEFAULT_ATTEMPTS = 8
# Why: the first retry comes fast (a restart often takes well under a second) ...
INITIAL_BACKOFF_SECONDS = 0.2
# ... and the gaps stop growing at 5 s so a recovered sidecar is used promptly.
MAX_BACKOFF_SECONDS = 5.0
# Why: a Retry-After is a hint; a buggy or hostile value must not park a producer for hours.
MAX_RETRY_AFTER_SECONDS = 60.0
# Why: a commit of 10k events takes well under a second; 30 s means the sidecar is stuck.
DEFAULT_TIMEOUT_SECONDS = 30.0
# Why: level 5 gets most of gzip's ratio on JSON at a fraction of level 9's CPU.
GZIP_LEVEL = 5
NDJSON = "application/x-ndjson"
JSON = "application/json"
# Why: the statuses that may succeed on a later attempt (the server or a proxy in front of it).
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_encoder = msgspec.json.Encoder()


class ClientError(Exception):
    """Base of the client's errors; ``status`` is the HTTP status (None when there was no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class RequestRejected(ClientError):
    """The sidecar refused the request itself (400, 401, 413, 415...): retrying cannot help."""


class SidecarUnavailable(ClientError):
    """No usable answer after every attempt: the sidecar is down, overloaded or its store is full."""


class _Transient(ClientError):
    """One failed attempt worth retrying; ``retry_after`` is the server's hint, if any."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SendResult:
    """The sidecar's answer to one ingest request (202 or 422)."""

    accepted: int
    rejected: list[tuple[int, str]] = field(default_factory=list)
    status: int = 202
    duplicates: int = 0  # accepted events the store already held (a resend; JetStream buffers only), counted inside accepted


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries; the defaults suit a producer next to its sidecar."""

    attempts: int = DEFAULT_ATTEMPTS
    initial: float = INITIAL_BACKOFF_SECONDS
    max: float = MAX_BACKOFF_SECONDS
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS


NO_RETRY = RetryPolicy(attempts=1)




class Client:
    """Talk to one sidecar at ``url`` (``http://`` or ``https://``)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        gzip: bool = False,
        content_type: str = NDJSON,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        ca_file: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"'{url}' is not an http(s) URL; write e.g. http://127.0.0.1:8787")
        if content_type not in (NDJSON, JSON):
            raise ValueError(f"content_type must be {NDJSON} or {JSON}")
        self.url = url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._base = parts.path.rstrip("/")
        self.token = token
        self.gzip = gzip
        self.content_type = content_type
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self._ssl = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
        self._local = threading.local()  # .conn: this thread's keep-alive connection
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    # -- life cycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection this client opened (in any thread)."""
        with self._lock:
            connections, self._open = self._open, set()
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def _drop_connection(self) -> None:
        """Forget this thread's connection (after an error or a Connection: close)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest --------------------------------------------------------------------------
    def send(self, events: Sequence[Mapping[str, Any]]) -> SendResult:
        """Post events (dicts in the wire format) as one request; see the module docstring for retries."""
        if self.content_type == NDJSON:
            body = b"\n".join(_encoder.encode(event) for event in events)
        else:
            body = _encoder.encode(list(events))
        return self.send_body(body, self.content_type)

    def send_lines(self, lines: Iterable[bytes]) -> SendResult:
        """Post already encoded NDJSON lines (e.g. read from a file) as one request."""
        return self.send_body(b"\n".join(lines), NDJSON)

    def send_body(self, body: bytes, content_type: str = NDJSON) -> SendResult:
        """Post a prepared body; 202 and 422 return a :class:`SendResult`, other answers raise."""
        headers = {"Content-Type": content_type}
        if self.gzip:
            body = gzip_module.compress(body, GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        status, _, payload = self._call("POST", "/v1/events", body, headers)
        answer = _decode(payload)
        rejected = [(int(r["index"]), str(r["error"])) for r in answer.get("rejected", [])]
        return SendResult(int(answer.get("accepted", 0)), rejected, status, int(answer.get("duplicates", 0)))

    # -- reading -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The sidecar's ``/v1/status`` document."""
        return _decode(self._call("GET", "/v1/status")[2])

    def dead_letters(self, sink: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters from ``/v1/dlq`` (every sink when ``sink`` is None)."""
        query = urlencode({k: v for k, v in (("sink", sink), ("limit", limit)) if v is not None})
        return list(_decode(self._call("GET", f"/v1/dlq?{query}")[2])["deadLetters"])

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200 (one attempt, no retries)."""
        try:
            status, _, _ = self._once("GET", "/readyz", None, {})
        except _Transient:
            return False
        return status == 200

    # -- transport -----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        policy = self.retry
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._checked(method, path, body, dict(headers or {}))
        except _Transient as exc:
            raise SidecarUnavailable(f"{method} {self.url}{path}: {exc.message} (after {policy.attempts} attempt(s))", exc.status) from exc
        raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the sidecar sent one (capped), else exponential backoff with full jitter."""
        failure = state.outcome.exception() if state.outcome else None
        hint = getattr(failure, "retry_after", None)
        if hint is not None:
            return min(float(hint), self.retry.max_retry_after)
        return float(wait_random_exponential(multiplier=self.retry.initial, max=self.retry.max)(state))

    def _checked(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, response_headers, payload = self._once(method, path, body, headers)
        if status < 300 or (status == 422 and path == "/v1/events"):
            return status, response_headers, payload
        message = _error_message(payload, status)
        if status in RETRYABLE_STATUSES:
            raise _Transient(message, status, parse_retry_after(response_headers.get("retry-after"), time.time(), response_headers.get("date")))
        raise RequestRejected(f"{method} {path}: {status} {message}", status)

    def _once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            conn = self._connection()
            conn.request(method, self._base + path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except ssl.SSLCertVerificationError as exc:
            self._drop_connection()
            # A certificate that does not verify will not verify on the next attempt either.
            raise ClientError(f"TLS with {self.url} failed: the certificate does not verify ({exc.verify_message}); pass ca_file") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()  # the keep-alive connection is unusable; the next attempt reconnects
            raise _Transient(_describe_connection_error(exc, self.url)) from exc
        if response.will_close:
            self._drop_connection()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn


def _decode(payload: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        raise ClientError(f"the sidecar answered something that is not JSON: {payload[:200]!r}") from None
    if not isinstance(value, dict):
        raise ClientError(f"the sidecar answered unexpected JSON: {payload[:200]!r}")
    return value


def _error_message(payload: bytes, status: int) -> str:
    try:
        value = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return payload[:200].decode("utf-8", "replace") or f"HTTP {status}"
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return value["error"]
    return f"HTTP {status}"


def _describe_connection_error(exc: BaseException, url: str) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing listens at {url}; start the sidecar with `authlog run -c authlog.toml`"
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"{url} did not answer in time"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {url} failed ({exc.reason}); check the certificate or pass ca_file"
    return f"connection to {url} failed ({type(exc).__name__}: {exc})"
