"""Connection guard: silent and idle connections are closed, a request in progress is not, and past the cap a connection is refused with a 503."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from sidecar_fakes import FakeShipper, make_config

from shippers.sidecar.app import make_app
from shippers.sidecar.connections import (
    FD_RESERVE_BASE,
    FD_RESERVE_PER_SINK_SLOT,
    MAX_DERIVED_CONNECTIONS,
    REFUSAL,
    ConnectionGuard,
    GuardedSite,
    derived_max_connections,
    start_guarded,
)

# Why: short timers so the tests finish promptly; the assertions are on order, not on time.
SHORT_IDLE_SECONDS = 0.2
# Why: a bound on every wait below, only there so a broken server fails instead of hanging.
WAIT_SECONDS = 30.0
GOOD = b'{"type": "login.completed"}'


def _head(length: int) -> bytes:
    return f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    return await asyncio.wait_for(reader.read(), WAIT_SECONDS)


def _run(tmp_path: Path, scenario: Callable[[web.Application], Awaitable[object]]) -> object:
    shipper = FakeShipper(make_config(tmp_path))
    return asyncio.run(scenario(make_app(shipper, [])))


@pytest.mark.parametrize("sent", [b"", b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-"], ids=["nothing", "half the headers"])
def test_a_connection_that_never_sends_a_request_is_closed_by_the_guard(tmp_path: Path, sent: bytes) -> None:
    """With aiohttp's own keep-alive timer out of the way (1 h), the guard still closes a connection that sent no whole request head."""

    async def scenario(app: web.Application) -> bytes:
        guard = ConnectionGuard(max_connections=10, idle_timeout=SHORT_IDLE_SECONDS)
        app.middlewares.insert(0, guard.middleware)
        runner = web.AppRunner(app, keepalive_timeout=3600)
        await runner.setup()
        site = GuardedSite(runner, guard, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(sent)
            answer = await _closed(reader)
            writer.close()
            return answer
        finally:
            await runner.cleanup()

    assert _run(tmp_path, scenario) == b""


def test_idle_connections_close_but_a_request_in_progress_does_not(tmp_path: Path) -> None:
    """A silent connection and one idle after a request are closed while a request whose body is still coming survives and completes."""

    async def scenario(app: web.Application) -> tuple[bytes, bytes, bytes]:
        runner, site = await start_guarded(app, "127.0.0.1", 0, max_connections=10, idle_timeout=SHORT_IDLE_SECONDS)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
            busy_writer.write(_head(len(GOOD)) + GOOD[:3])
            silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
            kept_reader, kept_writer = await asyncio.open_connection("127.0.0.1", port)
            kept_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            kept = await _closed(kept_reader)  # answered, then closed once idle
            silent = await _closed(silent_reader)
            busy_writer.write(GOOD[3:])
            busy = await asyncio.wait_for(busy_reader.readuntil(b"\r\n"), WAIT_SECONDS)
            for writer in (busy_writer, silent_writer, kept_writer):
                writer.close()
            return kept, silent, busy
        finally:
            await runner.cleanup()

    kept, silent, busy = _run(tmp_path, scenario)  # type: ignore[misc]
    assert kept.startswith(b"HTTP/1.1 200")
    assert silent == b""
    assert busy.startswith(b"HTTP/1.1 202")


def test_past_the_cap_a_connection_is_answered_503_and_closed_then_room_comes_back(tmp_path: Path) -> None:
    """With max_connections open, the next connection gets the 503 refusal and EOF; once one closes, requests are served again."""

    async def scenario(app: web.Application) -> tuple[bytes, bytes]:
        runner, site = await start_guarded(app, "127.0.0.1", 0, max_connections=2, idle_timeout=WAIT_SECONDS)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
            while len(runner.server.connections) < 2:  # type: ignore[union-attr]
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            refused = await _closed(reader)
            writer.close()
            held[0][1].close()
            while True:  # bounded: room comes back once the server saw the close
                assert asyncio.get_running_loop().time() < deadline
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                served = await _closed(reader)
                writer.close()
                if served.startswith(b"HTTP/1.1 200"):
                    break
                await asyncio.sleep(0.01)
            held[1][1].close()
            return refused, served
        finally:
            await runner.cleanup()

    refused, served = _run(tmp_path, scenario)  # type: ignore[misc]
    assert refused == REFUSAL and b"503" in refused.split(b"\r\n")[0] and b"Retry-After: 1" in refused
    assert served.startswith(b"HTTP/1.1 200")


def test_the_default_cap_is_the_fd_limit_minus_what_is_open_and_a_reserve() -> None:
    """max_connections defaults to RLIMIT_NOFILE - open fds - reserve (per sink slot too), at least 1, and a ceiling when unlimited."""
    assert derived_max_connections(1024, 20, 2) == 1024 - 20 - FD_RESERVE_BASE - 2 * FD_RESERVE_PER_SINK_SLOT
    assert derived_max_connections(64, 60, 1) == 1
    assert derived_max_connections(None, 20, 1) == MAX_DERIVED_CONNECTIONS


def test_bad_idle_timeout_and_max_connections_are_config_errors(tmp_path: Path) -> None:
    """idle_timeout = 0 and max_connections = 0 are config errors naming their keys."""
    from shippers.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, idle_timeout="0s", max_connections=0)
    problems = caught.value.problems
    assert any(p.startswith("server.idle_timeout:") for p in problems)
    assert any(p.startswith("server.max_connections:") for p in problems)
