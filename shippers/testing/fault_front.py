"""A fault-injecting HTTP front: a loopback reverse proxy that sits before any destination stand-in.

The stand-ins (:mod:`shippers.testing.fake_elasticsearch`, ``fake_datadog``, ``fake_cloud_logging``,
``moto_s3``) answer like their destinations. Under faults a shipper also meets what the network
and the proxies in front of a destination do: a 429 storm with ``Retry-After``, a 503 outage, a
connection closed before the request got anywhere, one closed after the destination stored the
request but before it answered, an answer cut in the middle, an answer that takes as long as
the test wants. Put this front before a stand-in and point the shipper at ``front.url``::

    with FakeElasticsearch() as es, FaultFront(es.url, faulted=lambda method, path: path.endswith("/_bulk")) as front:
        front.queue(status(429, retry_after=1), status(503), DROP, LOSE, CUT)   # the next five faulted requests
        front.plan = lambda index: status(429, 1) if index % 3 == 0 else PASS   # then this, by faulted-request number
        front.hold_next()               # forward the next one, keep its answer...
        front.wait_held(timeout=10)     # ...until the destination has it
        front.release()                 # ...and let it go
        front.seen                      # every request: arrival time, path, fault, body (as sent)

Only requests for which ``faulted(method, path)`` is true take faults (others always pass), so
setup calls (templates, bucket checks) are not disturbed. Request bodies are forwarded exactly
as they arrived (compressed or not); ``Seen.body`` is that body, gunzipped for reading.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import aiohttp
from aiohttp import web

from shippers.testing.fake_server import FakeServer

# Why: hop-by-hop headers describe one connection; a proxy never forwards them.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"})
# Why: a held answer is released by the test; if the test never does, the front lets go after this
# so a broken test cannot hang the server thread forever.
HOLD_CEILING_SECONDS = 60.0
# Why: the backend is a local stand-in; 30 s means it hangs, and the front then answers 502.
BACKEND_TIMEOUT_SECONDS = 30.0


class Fault(NamedTuple):
    """What the front does to one request."""

    kind: str  # pass | status | drop | lose | cut | hold
    status: int = 0  # for kind "status"
    retry_after: float | None = None  # sent as Retry-After with a "status" answer
    body: bytes = b""  # the "status" answer's body (default: a proxy's HTML page)
    content_type: str = "text/html"


PASS = Fault("pass")  # forward and answer what the destination answered
DROP = Fault("drop")  # close the connection at once: the destination never sees the request
LOSE = Fault("lose")  # forward (the destination stores it), then close without answering
CUT = Fault("cut")  # forward, send the status line, headers and half the body, then close
HOLD = Fault("hold")  # forward, then keep the answer until release()


def status(code: int, retry_after: float | None = None, body: bytes | None = None, content_type: str = "text/html") -> Fault:
    """Answer ``code`` without forwarding (a 429 storm, a 503 outage), with ``Retry-After`` if given.

    The body is by default the HTML page a proxy in front of the destination sends (nginx's shape);
    pass the destination's own error body to imitate the destination itself.
    """
    if body is None:
        body = f"<html><head><title>{code}</title></head><body><center><h1>{code}</h1></center></body></html>".encode()
    return Fault("status", code, retry_after, body, content_type)


class Seen(NamedTuple):
    """One request as the front received it."""

    at: float  # time.monotonic() when it arrived
    method: str
    path: str  # with the query string
    fault: Fault
    body: bytes  # the request body, decompressed when it was sent gzip/deflate
    reached_destination: bool  # True when the destination got it (pass, lose, cut, hold)
    answered: float = 0.0  # time.monotonic() once its body was read: a status fault is answered then


def _readable(body: bytes, encoding: str | None) -> bytes:
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError):
        return body
    return body


class FaultFront(FakeServer):
    """A reverse proxy on 127.0.0.1 that forwards to ``backend`` and injects faults on the way."""

    def __init__(self, backend: str, faulted: Callable[[str, str], bool] = lambda method, path: True) -> None:
        super().__init__()
        self.backend = backend.rstrip("/")
        self.faulted = faulted
        self.plan: Callable[[int], Fault] = lambda index: PASS  # faulted-request number -> Fault, after the queue
        self._queue: deque[Fault] = deque()
        self._seen: list[Seen] = []
        self._faulted_count = 0
        self._held = threading.Event()  # a held request reached the destination
        self._release = threading.Event()
        self._session: aiohttp.ClientSession | None = None

    # -- the script (test thread) ----------------------------------------------
    def queue(self, *faults: Fault) -> None:
        """The next faulted requests get these faults, in order, before ``plan`` decides."""
        with self.lock:
            self._queue.extend(faults)

    def hold_next(self) -> None:
        """Forward the next faulted request and keep its answer until :meth:`release`."""
        self._held.clear()
        self._release.clear()
        self.queue(HOLD)

    def wait_held(self, timeout: float) -> bool:
        """True once a held request has reached the destination (False after ``timeout``)."""
        return self._held.wait(timeout)

    def release(self) -> None:
        self._release.set()

    def clear(self) -> None:
        """Forget queued faults and pass everything from now on (recorded requests are kept)."""
        with self.lock:
            self._queue.clear()
            self.plan = lambda index: PASS
        self._release.set()

    @property
    def seen(self) -> list[Seen]:
        with self.lock:
            return list(self._seen)

    def _next_fault(self, method: str, path: str) -> Fault:
        if not self.faulted(method, path):
            return PASS
        with self.lock:
            index = self._faulted_count
            self._faulted_count += 1
            if self._queue:
                return self._queue.popleft()
            plan = self.plan
        return plan(index)

    # -- serving (server thread) --------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _start_site(self) -> None:
        # Why auto_decompress=False: bodies are forwarded byte for byte, compressed as they came.
        self._runner = web.AppRunner(self.make_app(), access_log=None, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []
        self.port = sockets[0].getsockname()[1]

    async def _backend_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False, timeout=aiohttp.ClientTimeout(total=BACKEND_TIMEOUT_SECONDS)
            )
        return self._session

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read()
        fault = self._next_fault(request.method, request.path_qs)
        forwards = fault.kind in ("pass", "lose", "cut", "hold")
        seen = Seen(arrived, request.method, request.path_qs, fault,
                    _readable(body, request.headers.get("Content-Encoding")), forwards, time.monotonic())
        with self.lock:
            self._seen.append(seen)
        if fault.kind == "drop":
            return self._close(request)
        if fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return web.Response(status=fault.status, headers=headers, body=fault.body, content_type=fault.content_type)
        answer_status, answer_headers, answer_body = await self._forward(request, body)
        if fault.kind == "lose":
            return self._close(request)
        if fault.kind == "hold":
            self._held.set()
            await asyncio.to_thread(self._release.wait, HOLD_CEILING_SECONDS)
        if fault.kind == "cut":
            response = web.StreamResponse(status=answer_status, headers=answer_headers)
            response.content_length = len(answer_body)
            await response.prepare(request)
            await response.write(answer_body[: len(answer_body) // 2])
            return self._close(request, response)
        return web.Response(status=answer_status, headers=answer_headers, body=answer_body)

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        session = await self._backend_session()
        try:
            async with session.request(request.method, self.backend + request.path_qs, headers=headers, data=body) as answer:
                data = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                return answer.status, kept, data
        except (TimeoutError, aiohttp.ClientError) as exc:
            return 502, {"Content-Type": "text/plain"}, f"fault front: backend failed: {exc}".encode()

    @staticmethod
    def _close(request: web.Request, response: web.StreamResponse | None = None) -> web.StreamResponse:
        """Close the client's connection now; aiohttp then has nothing left to write to."""
        if request.transport is not None:
            request.transport.close()
        return response if response is not None else web.Response(status=204)

    def stop(self) -> None:
        self._release.set()
        if self._loop is not None and self._session is not None:
            future = asyncio.run_coroutine_threadsafe(self._session.close(), self._loop)
            future.result(BACKEND_TIMEOUT_SECONDS)
            self._session = None
        super().stop()


def retry_after_gaps(seen: list[Seen], key: Callable[[Seen], str] = lambda s: "") -> list[tuple[Seen, Seen]]:
    """(answer with Retry-After, the next request with the same key made after that answer) pairs, in arrival order.

    A shipper that honours Retry-After leaves at least that long between the two; the caller
    decides which pairs count (e.g. only those within one process lifetime). A request that
    arrived before the hint was answered was already on its way (a sink with several requests
    in flight) and could not have known it: it is not paired with that hint.
    """
    pairs: list[tuple[Seen, Seen]] = []
    pending: dict[str, Seen] = {}
    for item in sorted(seen, key=lambda s: s.at):
        k = key(item)
        if k in pending and item.at >= pending[k].answered:
            pairs.append((pending.pop(k), item))
        if item.fault.kind == "status" and item.fault.retry_after is not None:
            pending[k] = item
    return pairs
