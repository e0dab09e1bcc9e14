"""A tiny scripted HTTP server on loopback, for answers the destination stand-ins cannot give.

The fakes in :mod:`shippers.testing` behave like their destinations. Some tests need what no
real destination says on purpose: a redirect, an HTML page from a proxy, a 2xx that is not
JSON, a 401 on any path, or the exact headers and bytes a client put on the wire. This server
answers every method from a script and records every request::

    with ScriptedHTTPServer(Answer(302, {"Location": "/login"})) as server:
        ...                                          # point the client at server.url
        server.queue(Answer(400, {"Content-Type": "text/html"}, b"<html>proxy</html>"))
        [seen] = server.requests                     # Recorded(method, target, headers, body)

Each request takes the next queued answer, else ``server.answer``: an :class:`Answer` (any
``(status, headers, body)`` tuple) or a callable that builds one from the :class:`Recorded`
request. It speaks HTTP/1.1 with keep-alive, always drains the request body (by
Content-Length) and counts the connections it accepted (``connections``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple, Self
from urllib.parse import parse_qs, urlsplit

from shippers.testing.fake_server import LOOPBACK, START_TIMEOUT_SECONDS

# Why: a short poll keeps stop() quick; serve_forever checks for shutdown this often.
_POLL_SECONDS = 0.05


class Answer(NamedTuple):
    """What to send back: status, headers (Content-Length is added) and body (never sent to a HEAD)."""

    status: int = 200
    headers: Mapping[str, str] = {}
    body: bytes = b""


class Recorded(NamedTuple):
    """One request as received; header names are lower-cased."""

    method: str
    target: str  # the path with its query string, as sent
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)


EMPTY_200 = Answer()
AnswerLike = tuple[int, Mapping[str, str], bytes]
Script = AnswerLike | Callable[[Recorded], AnswerLike]


class ScriptedHTTPServer:
    """A threaded stdlib HTTP server on 127.0.0.1, port 0, answering from a script."""

    def __init__(self, answer: Script = EMPTY_200) -> None:
        self.answer: Script = answer
        self.connections = 0
        self._queued: deque[AnswerLike] = deque()
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self.port = 0  # the bound port once started
        self._running: tuple[ThreadingHTTPServer, threading.Thread] | None = None

    # -- the script and what was seen ------------------------------------
    def queue(self, *answers: AnswerLike) -> None:
        """Answer the next requests with these, in order, before falling back to ``answer``."""
        with self._lock:
            self._queued.extend(answers)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget recorded requests, queued answers and the connection count (``answer`` is kept)."""
        with self._lock:
            self._requests.clear()
            self._queued.clear()
            self.connections = 0

    def _respond(self, seen: Recorded) -> AnswerLike:
        with self._lock:
            self._requests.append(seen)
            queued = self._queued.popleft() if self._queued else None
        if queued is not None:
            return queued
        return self.answer(seen) if callable(self.answer) else self.answer

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    # -- life cycle --------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL; it stays valid after stop() for tests that rebuild a request from it."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        server = ThreadingHTTPServer((LOOPBACK, 0), _handler_for(self))
        thread = threading.Thread(target=server.serve_forever, args=(_POLL_SECONDS,), name="ScriptedHTTP", daemon=True)
        thread.start()
        self.port = server.server_address[1]
        self._running = (server, thread)
        return self

    def stop(self) -> None:
        if self._running is not None:
            server, thread = self._running
            self._running = None
            server.shutdown()
            server.server_close()
            thread.join(START_TIMEOUT_SECONDS)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(owner: ScriptedHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client may reuse one connection

        def setup(self) -> None:
            super().setup()
            owner._connected()

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer_headers, answer_body = owner._respond(Recorded(self.command, self.path, headers, body))
            self.send_response_only(status)
            self.send_header("Server", self.version_string())
            if not any(name.lower() == "date" for name in answer_headers):  # a scripted Date replaces the real one
                self.send_header("Date", self.date_time_string())
            for name, value in answer_headers.items():
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name in answer_headers):
                self.send_header("Content-Length", str(len(answer_body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer_body)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

    return Handler
