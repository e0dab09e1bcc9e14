"""A local stand-in for the Datadog Logs intake: ``POST /api/v2/logs``.

For tests and demos: point ``datadog_api_client`` at it with
``Configuration(host=fake.url)`` and the real SDK talks to it over a socket::

    with FakeDatadog(api_key="k") as dd:
        cfg = Configuration(host=dd.url)
        cfg.api_key["apiKeyAuth"] = "k"
        ...
        assert dd.items()[0]["message"] == "hello"
        assert all(r.item_count <= MAX_ITEMS_PER_REQUEST for r in dd.requests())

Faithful (from the Logs API v2 reference and the behaviour of the intake):

- ``DD-API-KEY`` must equal the configured key; a missing or wrong key gets
  ``403 {"errors": ["Forbidden"]}`` (the intake answers 403 for both, although
  the API reference lists 401 for a missing key: treat 401 and 403 alike).
- The body is a JSON array of log objects (a single object is also accepted),
  plain or ``Content-Encoding: gzip`` / ``deflate``; limits apply to the
  *uncompressed* payload.
- More than 1000 logs or more than 5 MB uncompressed -> ``413``; invalid JSON
  -> ``400``; success -> ``202 {}``.
- A log over 1 MB is accepted and silently *truncated*; the fake counts it in
  :attr:`FakeDatadog.truncated` so a test can prove the shipper never sends one.
- A log whose ``timestamp`` is more than 18 h old is accepted and silently
  dropped (Datadog does not index it); the fake lists it in :meth:`dropped`.
- Throttling answers ``429`` with ``Retry-After`` and the ``X-Ratelimit-*``
  headers (the SDK's own retry reads ``X-Ratelimit-Reset``).

Simplified: only JSON bodies (no ``text/plain`` lines, no ``zstd1``), no
reserved-attribute remapping (``host``, ``status``, ``service`` are stored as
sent), no rate limiting unless injected, truncation cuts ``message`` (or, when
the other attributes alone are too big, keeps only a cut ``message``), and the
error bodies are short ``{"errors": [...]}`` objects.
"""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from shippers.testing._http_body import read_body
from shippers.testing.fake_server import LOOPBACK, FakeServer

# Why: the Logs API v2 reference: "Maximum array size if sending multiple logs in an array: 1000 entries".
MAX_ITEMS_PER_REQUEST = 1000
# Why: the reference says "Maximum content size per payload (uncompressed): 5MB" without saying
# which MB; the fake takes the generous reading (5 MiB) so it never rejects what the real intake
# might accept. Shippers should aim lower (Vector batches to 5_000_000 and assert that in tests).
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024
# Why: "Maximum size for a single log: 1MB"; larger logs are accepted and truncated, read generously as above.
MAX_LOG_BYTES = 1024 * 1024
# Why: "Log events can be submitted with a timestamp that is up to 18 hours in the past"; older are dropped.
MAX_LOG_AGE_SECONDS = 18 * 3600
# Why: the statuses the reference lists as "should be retried after some time" besides 429.
RETRYABLE_FAILURE_STATUSES = frozenset({408, 500, 502, 503, 504})

API_KEY_HEADER = "DD-API-KEY"
INTAKE_PATH = "/api/v2/logs"

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class DatadogRequest:
    """What one ``POST /api/v2/logs`` looked like and how the fake answered."""

    status: int
    api_key_sent: bool  # a DD-API-KEY header was present
    api_key_ok: bool  # ... and it equalled the configured key
    content_encoding: str | None
    content_type: str | None
    item_count: int | None  # None when the body was not parsed (too big, not JSON)
    uncompressed_bytes: int
    wire_bytes: int | None  # Content-Length as sent (compressed size when encoded)
    ddtags: str | None  # the ``ddtags`` query parameter, if any
    truncated: int  # logs in this request over MAX_LOG_BYTES


@dataclass(frozen=True)
class _Fault:
    status: int
    headers: dict[str, str]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _error(status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errors": [_REASONS.get(status, "Error")]}, status=status, headers=headers)


def _epoch_seconds(timestamp: object) -> float | None:
    """Read a Datadog ``timestamp``: epoch milliseconds or ISO 8601; None when unreadable."""
    if isinstance(timestamp, bool):
        return None
    if isinstance(timestamp, int | float):
        return timestamp / 1000.0
    if isinstance(timestamp, str):
        try:
            parsed = datetime.fromisoformat(timestamp)  # 3.11 reads "Z" too
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo else None
    return None


def _truncate(item: dict[str, Any]) -> dict[str, Any]:
    """Cut a log to MAX_LOG_BYTES the way the intake does: the ``message`` goes first."""
    message = item.get("message")
    if isinstance(message, str):
        cut = dict(item)
        encoded = message.encode()
        while len(_dumps(cut)) > MAX_LOG_BYTES and encoded:
            excess = len(_dumps(cut)) - MAX_LOG_BYTES
            encoded = encoded[: max(0, len(encoded) - excess)]
            cut["message"] = encoded.decode(errors="ignore")
        if len(_dumps(cut)) <= MAX_LOG_BYTES:
            return cut
    # The other attributes alone are too big: keep only the start of the serialized log.
    return {"message": _dumps(item)[: MAX_LOG_BYTES - 16].decode(errors="ignore")}


class FakeDatadog(FakeServer):
    """The Datadog Logs intake v2, with recorded requests and injectable faults."""

    def __init__(
        self,
        api_key: str = "fake-dd-api-key",
        *,
        clock: Callable[[], float] = time.time,
        host: str = LOOPBACK,
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self._clock = clock
        self._items: list[dict[str, Any]] = []
        self._dropped: list[dict[str, Any]] = []
        self._requests: list[DatadogRequest] = []
        self._faults: deque[_Fault] = deque()
        self._truncated = 0

    # -- fault injection (consumed in order, one per request) -----------------
    def throttle_next(self, n: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``n`` requests with 429 and the intake's rate-limit headers."""
        headers = {
            "Retry-After": str(retry_after),
            "X-Ratelimit-Limit": "1000",
            "X-Ratelimit-Period": "60",
            "X-Ratelimit-Remaining": "0",
            "X-Ratelimit-Reset": str(retry_after),
        }
        self._queue(n, _Fault(429, headers))

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` requests with a retryable failure (408, 500, 502, 503 or 504)."""
        if status not in RETRYABLE_FAILURE_STATUSES:
            raise ValueError(f"status must be one of {sorted(RETRYABLE_FAILURE_STATUSES)}, not {status}")
        self._queue(n, _Fault(status, {}))

    def forbid_next(self, n: int = 1) -> None:
        """Answer the next ``n`` requests with 403, as for a revoked key."""
        self._queue(n, _Fault(403, {}))

    def _queue(self, n: int, fault: _Fault) -> None:
        with self.lock:
            self._faults.extend([fault] * n)

    def reset(self) -> None:
        """Forget every item, request, drop, truncation and pending fault."""
        with self.lock:
            self._items.clear()
            self._dropped.clear()
            self._requests.clear()
            self._faults.clear()
            self._truncated = 0

    # -- observations -----------------------------------------------------------
    def items(self) -> list[dict[str, Any]]:
        """Every accepted (and not dropped) log, in arrival order; a deep copy."""
        with self.lock:
            return copy.deepcopy(self._items)

    def dropped(self) -> list[dict[str, Any]]:
        """Logs accepted with 202 but dropped for being older than 18 h; a deep copy."""
        with self.lock:
            return copy.deepcopy(self._dropped)

    def requests(self) -> list[DatadogRequest]:
        """Every request received, in order, with the status the fake answered."""
        with self.lock:
            return list(self._requests)

    @property
    def truncated(self) -> int:
        """How many logs over MAX_LOG_BYTES arrived (and were stored truncated)."""
        with self.lock:
            return self._truncated

    # -- server -------------------------------------------------------------------
    def make_app(self) -> web.Application:
        # Why: bodies are streamed through read_body, which enforces MAX_PAYLOAD_BYTES itself;
        # this only keeps aiohttp's own 1 MiB default out of the way of anything else.
        app = web.Application(client_max_size=2 * MAX_PAYLOAD_BYTES)
        app.router.add_post(INTAKE_PATH, self._submit)
        return app

    async def _submit(self, request: web.Request) -> web.Response:
        body = await read_body(request, MAX_PAYLOAD_BYTES)
        sent_key = request.headers.get(API_KEY_HEADER)
        logs = self._parse(body.data) if not (body.over_limit or body.undecodable) else None
        oversized = [i for i, log in enumerate(logs or []) if len(_dumps(log)) > MAX_LOG_BYTES]

        with self.lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            status, response = fault.status, _error(fault.status, fault.headers)
        elif sent_key != self.api_key:
            status, response = 403, _error(403)
        elif body.over_limit:
            status, response = 413, _error(413)
        elif logs is None:
            status, response = 400, _error(400)
        elif len(logs) > MAX_ITEMS_PER_REQUEST:
            status, response = 413, _error(413)
        else:
            status, response = 202, web.json_response({}, status=202)
            self._accept(logs, set(oversized))

        record = DatadogRequest(
            status=status,
            api_key_sent=sent_key is not None,
            api_key_ok=sent_key == self.api_key,
            content_encoding=body.encoding,
            content_type=request.headers.get("Content-Type"),
            item_count=None if logs is None else len(logs),
            uncompressed_bytes=body.size,
            wire_bytes=body.wire_size,
            ddtags=request.query.get("ddtags"),
            truncated=len(oversized),
        )
        with self.lock:
            self._requests.append(record)
        return response

    @staticmethod
    def _parse(data: bytes) -> list[dict[str, Any]] | None:
        """The logs in a body, or None when it is not a JSON array of objects (or one object)."""
        try:
            parsed = json.loads(data)
        except ValueError:
            return None
        logs = [parsed] if isinstance(parsed, dict) else parsed
        if not isinstance(logs, list) or not all(isinstance(log, dict) for log in logs):
            return None
        return logs

    def _accept(self, logs: list[dict[str, Any]], oversized: set[int]) -> None:
        oldest = self._clock() - MAX_LOG_AGE_SECONDS
        with self.lock:
            for index, log in enumerate(logs):
                if index in oversized:
                    self._truncated += 1
                    log = _truncate(log)
                when = _epoch_seconds(log.get("timestamp"))
                (self._dropped if when is not None and when < oldest else self._items).append(log)
