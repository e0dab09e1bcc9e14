"""Connections of the sidecar: an idle timeout, a cap derived from the descriptor limit, a clear refusal past it.

A client that opens sockets and sends nothing must not exhaust the process's file
descriptors (then asyncio cannot accept anyone, and logs a traceback per attempt). So:

- **idle timeout** (``[server] idle_timeout``): aiohttp's ``keepalive_timeout`` closes a
  connection idle *between* requests; a connection that never completes a first request
  gets its own timer here (aiohttp before 3.14.5 never closes it; newer ones do too).
  A request in progress (its headers arrived) is never cut by these timers: its body has
  its own read timeout in app.py.
- **connection cap** (``[server] max_connections``, default :func:`derived_max_connections`:
  RLIMIT_NOFILE minus the descriptors open at start-up minus a reserve for what the store,
  sinks and logs open later). Past it a connection is accepted, answered
  ``503 {"error": ...}`` with ``Retry-After`` (plain HTTP) and closed at once, so its
  descriptor is free again immediately and the producer knows to retry.

The cap is checked *as each socket is accepted*: asyncio's own server accepts up to
``backlog`` sockets per wake-up before any protocol exists, which is how a flood of idle
sockets reaches EMFILE. So :class:`GuardedSite` binds its sockets and runs its own accept
loop (:class:`_Listener`), handing accepted sockets to ``loop.connect_accepted_socket``.
If descriptors still run out, accepting pauses for a second and that is logged once (the
caller rate-limits the log, see log_throttle.py), not a traceback per attempt.

:func:`start_guarded` sets all this up; ``server.py`` uses it instead of ``web.TCPSite``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from shippers.sidecar.quiet import quiet_handler

log = logging.getLogger("authlog.sidecar")

# Why: what the process opens after start-up besides connections: SQLite's journal and temp
# files, a rotating file sink's next file, log files, the resolver's sockets.
FD_RESERVE_BASE = 32
# Why: each concurrency slot of a sink may hold a pooled HTTPS connection or an open file.
FD_RESERVE_PER_SINK_SLOT = 4
# Why: when RLIMIT_NOFILE is unlimited, a cap still bounds memory (a connection costs ~50 KiB).
MAX_DERIVED_CONNECTIONS = 65_536
# Why: sockets accepted per wake-up of the listening socket: a flood is taken in slices so
# other callbacks (and the cap check) run between them.
ACCEPT_BATCH = 64
# Why: asyncio's own pause after EMFILE: descriptors free up as connections close.
ACCEPT_RETRY_SECONDS = 1.0
# Why: a TLS handshake holds a descriptor before any request: bound it like an idle connection.
MAX_HANDSHAKE_SECONDS = 30.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Why: the refusal tells the producer to come back soon: connections free up as idle ones time out.
REFUSAL_RETRY_AFTER_SECONDS = 1
_REFUSAL_BODY = (
    b'{"error": "the sidecar has too many open connections (server.max_connections); '
    b'nothing was stored: retry shortly, and reuse one connection per producer"}'
)
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    + f"Retry-After: {REFUSAL_RETRY_AFTER_SECONDS}\r\nContent-Length: {len(_REFUSAL_BODY)}\r\n\r\n".encode()
    + _REFUSAL_BODY
)


def open_fd_count() -> int:
    """Descriptors this process has open now (0 where the platform cannot tell)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 0


def fd_soft_limit() -> int | None:
    """RLIMIT_NOFILE's soft limit, or None when unlimited or unknown."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def derived_max_connections(soft_limit: int | None, open_fds: int, sink_slots: int) -> int:
    """The default ``max_connections``: what the descriptor limit leaves after start-up and a reserve (at least 1)."""
    if soft_limit is None:
        return MAX_DERIVED_CONNECTIONS
    reserve = FD_RESERVE_BASE + FD_RESERVE_PER_SINK_SLOT * sink_slots
    return max(1, min(MAX_DERIVED_CONNECTIONS, soft_limit - open_fds - reserve))


def _refuse(conn: socket.socket, plain_http: bool) -> None:
    """Answer 503 (plain HTTP only) and close ``conn`` now; its descriptor is free again."""
    try:
        conn.setblocking(False)
        if plain_http:
            conn.send(REFUSAL)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(65536)  # drain what the client already sent, so the close is a FIN, not a reset
    except OSError:
        pass
    finally:
        conn.close()


class ConnectionGuard:
    """Counts connections, refuses past the cap as they are accepted, and times out a silent start.

    Build it, add :meth:`middleware` to the app (first), then listen with it
    (:class:`GuardedSite`, which :meth:`attach` es the runner's server).
    """

    def __init__(self, max_connections: int, idle_timeout: float) -> None:
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.refused = 0
        self.pending = 0  # accepted, not yet handed to aiohttp (TCP set-up or TLS handshake)
        self._server: web.Server | None = None
        self._no_request_yet: set[RequestHandler] = set()

    def attach(self, server: web.Server) -> None:
        self._server = server

    @property
    def open_connections(self) -> int:
        assert self._server is not None, "attach() the runner's server first"
        return self.pending + len(self._server.connections)

    def accepted(self, conn: socket.socket, ssl_context: ssl.SSLContext | None) -> None:
        """Take a freshly accepted socket: serve it, or refuse it if the cap is reached."""
        open_now = self.open_connections
        if open_now >= self.max_connections:
            self.refused += 1
            log.warning(
                "refusing a connection: %d are open, server.max_connections is %d (answered 503 + Retry-After)",
                open_now, self.max_connections,
            )
            _refuse(conn, plain_http=ssl_context is None)
            return
        self.pending += 1
        asyncio.get_running_loop().create_task(self._connect(conn, ssl_context))

    async def _connect(self, conn: socket.socket, ssl_context: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                self._make_handler, conn, ssl=ssl_context,
                ssl_handshake_timeout=min(self.idle_timeout, MAX_HANDSHAKE_SECONDS) if ssl_context else None,
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("a connection failed before its first request: %s", exc)
            conn.close()
        finally:
            self.pending -= 1

    def _make_handler(self) -> RequestHandler:
        assert self._server is not None
        handler = quiet_handler(self._server())  # quiet.py: a malformed request's bytes are never echoed
        self._no_request_yet.add(handler)
        asyncio.get_running_loop().call_later(self.idle_timeout, self._first_request_due, handler)
        return handler

    def _first_request_due(self, handler: RequestHandler) -> None:
        if handler in self._no_request_yet:
            self._no_request_yet.discard(handler)
            if handler.transport is not None:
                log.debug("closing a connection that sent no request within server.idle_timeout")
                handler.force_close()

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Mark the connection as having started a request: from here on only aiohttp's timers apply."""
        self._no_request_yet.discard(request.protocol)  # type: ignore[arg-type]
        return await handler(request)


class _Listener:
    """Listening sockets and their accept loop: the part of asyncio.Server that aiohttp's site uses (close, sockets)."""

    def __init__(self, sockets: list[socket.socket], guard: ConnectionGuard, ssl_context: ssl.SSLContext | None) -> None:
        self.sockets = sockets
        self._guard = guard
        self._ssl_context = ssl_context
        self._loop = asyncio.get_running_loop()
        self._closed = False

    def start(self) -> None:
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept_ready, sock)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()

    def _accept_ready(self, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:
                # Out of descriptors (or memory), or anything else the kernel says: pause, log once
                # (rate-limited by the caller's filter), never a traceback per attempt.
                hint = (
                    f"server.max_connections is {self._guard.max_connections}: raise the file-descriptor limit or lower it"
                    if exc.errno in _OUT_OF_RESOURCES else "see the error"
                )
                log.error("cannot accept connections: %s; pausing accepts for %gs (%s)", exc.strerror or exc, ACCEPT_RETRY_SECONDS, hint)
                self._loop.remove_reader(sock.fileno())
                self._loop.call_later(ACCEPT_RETRY_SECONDS, self._resume, sock)
                return
            self._guard.accepted(conn, self._ssl_context)

    def _resume(self, sock: socket.socket) -> None:
        if not self._closed:
            self._loop.add_reader(sock.fileno(), self._accept_ready, sock)


def bind_listening(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Non-blocking listening sockets for every address of host:port (as asyncio's create_server binds them)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class GuardedSite(web.BaseSite):
    """A TCP site that accepts through a :class:`ConnectionGuard` (cap checked per accepted socket)."""

    def __init__(
        self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int, *,
        ssl_context: ssl.SSLContext | None = None, backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host, self._port = host, port
        self.guard = guard

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        assert self._runner.server is not None
        self.guard.attach(self._runner.server)
        listener = _Listener(bind_listening(self._host, self._port, self._backlog), self.guard, self._ssl_context)
        listener.start()
        self._server = listener  # type: ignore[assignment]  # aiohttp only calls close() and reads sockets


async def start_guarded(
    app: web.Application, host: str, port: int, *, max_connections: int, idle_timeout: float,
    ssl_context: ssl.SSLContext | None = None, backlog: int = 128, **runner_options: object,
) -> tuple[web.AppRunner, GuardedSite]:
    """Set up ``app`` and listen on host:port with the idle timeout and the connection cap.

    On an OSError from listening the runner is cleaned up and the error re-raised.
    """
    guard = ConnectionGuard(max_connections, idle_timeout)
    app.middlewares.insert(0, guard.middleware)
    # aiohttp's keep-alive timer closes a connection idle between requests.
    runner = web.AppRunner(app, keepalive_timeout=idle_timeout, **runner_options)  # type: ignore[arg-type]
    await runner.setup()
    site = GuardedSite(runner, guard, host, port, ssl_context=ssl_context, backlog=backlog)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner, site
