"""Run a far end (a counting endpoint, or a ``shippers.testing`` stand-in) in its own process.

So its CPU and memory are not the shipper's. The parent talks to the child over a Pipe::

    child:  sends its URL, then answers each message until any other one (or the pipe closes):
              "count" -> a Counted      "reset" -> None (everything counted is forgotten)

    with start(ElasticsearchApp) as endpoint:      # spawned; returns once the URL is known
        ... endpoint.url, endpoint.pid ...
        endpoint.wait_for(100_000)                 # until 100k distinct ids are stored
        endpoint.count()                           # Counted(events, distinct, refused, requests)

``spawn`` is used (not fork) so the child starts clean of the parent's threads and open
stores; a parent that dies closes the pipe and the child stops too.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Protocol, Self

from .http_core import Handler, serve
from .tally import Counted

# Why: importing an SDK-backed stand-in (moto) can take several seconds on a loaded 2-core box.
STARTUP_TIMEOUT_SECONDS = 60.0
# Why: how often wait_for asks the child; a count is one small pipe round trip.
POLL_SECONDS = 0.02


class CountingApp(Protocol):
    """What a counting endpoint supplies: a request handler and its tally."""

    def handle(self, request: Any) -> Any: ...

    def counted(self) -> Counted: ...

    def reset(self) -> None: ...


def answer(conn: Connection, url: str, count: Callable[[], Counted], reset: Callable[[], None] = lambda: None) -> None:
    """Child side, for a server running on its own threads: send the URL, then answer until told to stop."""
    conn.send(url)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message == "count":
            conn.send(count())
        elif message == "reset":
            reset()
            conn.send(None)
        else:
            return


def _run_app(conn: Connection, factory: Callable[..., CountingApp], options: dict[str, Any], host: str, port: int) -> None:
    """Child side for a counting endpoint: serve it on this process's event loop, answer the pipe there too."""
    asyncio.run(_serve_app(conn, factory(**options), host, port))


async def _serve_app(conn: Connection, app: CountingApp, host: str, port: int) -> None:
    handler: Handler = app.handle
    server = await serve(handler, host, port)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def on_message() -> None:
        try:
            message = conn.recv()
        except EOFError:
            message = "stop"
        if message == "count":
            conn.send(app.counted())
        elif message == "reset":
            app.reset()
            conn.send(None)
        elif not stopped.done():
            loop.remove_reader(conn.fileno())
            stopped.set_result(None)

    conn.send(f"http://{bound_host}:{bound_port}")
    loop.add_reader(conn.fileno(), on_message)
    await stopped
    server.close()


class Endpoint:
    """The parent's handle on a far end running in a child process."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self._conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        if not self._conn.poll(STARTUP_TIMEOUT_SECONDS):
            self.process.kill()
            raise RuntimeError(f"the endpoint did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
        self.url: str = self._conn.recv()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def count(self) -> Counted:
        self._conn.send("count")
        counted: Counted = self._conn.recv()
        return counted

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def wait_for(self, distinct: int, timeout: float, *, poll: float = POLL_SECONDS) -> Counted:
        """Ask until ``distinct`` distinct ids are stored or ``timeout`` seconds pass; the last count."""
        deadline = time.monotonic() + timeout
        counted = self.count()
        while counted.distinct < distinct and time.monotonic() < deadline:
            time.sleep(poll)
            counted = self.count()
        return counted

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self._conn.send("stop")
            except OSError:
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start(factory: Callable[..., CountingApp], host: str = "127.0.0.1", port: int = 0, **options: Any) -> Endpoint:
    """Run ``factory(**options)`` as a counting endpoint in a spawned child; its handle once it listens."""
    return Endpoint(_run_app, factory, options, host, port)
