"""A base for the local stand-ins of the destinations: an aiohttp app served from a thread.

Every fake destination (Elasticsearch, Datadog, Cloud Logging) is an aiohttp
``web.Application`` built by a subclass of :class:`FakeServer`. The server runs
its own event loop in a daemon thread and binds ``127.0.0.1`` on port 0, so a
test session can start one per destination without port clashes and talk to it
with the real SDK over a real socket::

    with FakeElasticsearch() as es:
        client = Elasticsearch(es.url)

Faults are queued from the test thread and consumed by the request handlers on
the server thread, so every mutable piece of state is guarded by ``self.lock``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from aiohttp import web

# Why: a stand-in must never be reachable from another host; tests and the demo
# only ever talk to it over loopback.
LOOPBACK = "127.0.0.1"
# Why: a generous but finite start-up wait keeps a broken fixture from hanging CI.
START_TIMEOUT_SECONDS = 10.0


class FakeServer:
    """Serve ``self.make_app()`` on loopback from a background thread."""

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- for subclasses -------------------------------------------------
    def make_app(self) -> web.Application:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- life cycle -----------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # surfaced to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError(f"{type(self).__name__} did not start within {START_TIMEOUT_SECONDS}s")
        if failure:
            raise failure[0]
        return self

    async def _start_site(self) -> None:
        # Why: the default 1 MiB cap would hide the destinations' real, larger limits;
        # each fake enforces its own documented limit in its handlers instead.
        app = self.make_app()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []
        self.port = sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_SECONDS)
        self._loop = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
