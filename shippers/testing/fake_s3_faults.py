"""Inject S3 failures in front of a local S3 (moto's server): throttling, 5xx, lost answers.

moto answers every request correctly; a shipper's retry path needs the answers S3 gives
under load too. :class:`S3Faults` is a WSGI middleware that :class:`~shippers.testing.moto_s3.MotoS3`
puts in front of moto, so the real boto3 client receives a real HTTP error over a real socket::

    with MotoS3() as s3:
        s3.faults.fail_next(2)                       # 503 SlowDown for the next two object PUTs
        s3.faults.fail_next(1, status=409, code="ConditionalRequestConflict")
        s3.faults.lose_answers(1)                    # the PUT is stored, the client sees a 500
        s3.faults.fail_next(None, status=403, code="AccessDenied")   # until clear()

Faults apply to object writes only (``PUT /<bucket>/<key>``, path-style), in the order
queued; bucket creation and reads always reach moto. ``lose_answers`` forwards the write
first and then answers 500 InternalError: the object exists but the client cannot know,
exactly the window between a PUT and its acknowledgement that a crash also opens.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
           500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout"}
DEFAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ConditionalRequestConflict": "A conflicting operation occurred. Please retry.",
    "AccessDenied": "Access Denied",
}


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int
    code: str
    message: str
    retry_after: str | None
    forward: bool  # store the object first, then answer the fault (a lost answer)


def _is_object_put(environ: Environ) -> bool:
    path = environ.get("PATH_INFO", "").strip("/")
    return environ.get("REQUEST_METHOD") == "PUT" and "/" in path


def _drain(environ: Environ) -> None:
    """Read the request body so the client can read our answer on a healthy connection."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH") or "0"
    if stream is not None and length.isdigit():
        remaining = int(length)
        while remaining > 0:
            chunk = stream.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)


class S3Faults:
    """A WSGI middleware answering queued S3 errors instead of (or after) the real object PUT."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._queue: deque[_Fault] = deque()
        self._sticky: _Fault | None = None
        self.injected = 0  # faults answered so far
        self.object_puts = 0  # object PUTs seen, faulted or not

    # -- from the test thread ---------------------------------------------
    def fail_next(
        self,
        n: int | None = 1,
        status: int = 503,
        code: str = "SlowDown",
        message: str | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next ``n`` object PUTs with this S3 error (``n=None``: every one until :meth:`clear`)."""
        fault = _Fault(status, code, message or DEFAULT_MESSAGES.get(code, code),
                       None if retry_after is None else str(retry_after), forward=False)
        self._add(n, fault)

    def lose_answers(self, n: int | None = 1, status: int = 500, code: str = "InternalError") -> None:
        """Store the next ``n`` objects, then answer an error as if the answer had been lost."""
        self._add(n, _Fault(status, code, DEFAULT_MESSAGES.get(code, code), None, forward=True))

    def clear(self) -> None:
        """Drop every queued and sticky fault."""
        with self._lock:
            self._queue.clear()
            self._sticky = None

    def _add(self, n: int | None, fault: _Fault) -> None:
        with self._lock:
            if n is None:
                self._sticky = fault
            else:
                self._queue.extend([fault] * n)

    def _take(self) -> _Fault | None:
        with self._lock:
            self.object_puts += 1
            fault = self._queue.popleft() if self._queue else self._sticky
            if fault is not None:
                self.injected += 1
            return fault

    # -- WSGI, on the server's threads -------------------------------------
    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not _is_object_put(environ):
            return self.app(environ, start_response)
        fault = self._take()
        if fault is None:
            return self.app(environ, start_response)
        if fault.forward:
            body = self.app(environ, lambda *args, **kwargs: None)
            for _ in body:  # run the real write to the end
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        else:
            _drain(environ)
        payload = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(fault.code)}</Code><Message>{escape(fault.message)}</Message>"
            f"<RequestId>fault-{self.injected}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))]
        if fault.retry_after is not None:
            headers.append(("Retry-After", fault.retry_after))
        start_response(f"{fault.status} {REASONS.get(fault.status, 'Error')}", headers)
        return [payload]
