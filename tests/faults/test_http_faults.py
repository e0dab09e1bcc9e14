"""Fault injection on the sidecar's HTTP surface: hostile body shapes, slow bodies, idle sockets, fd exhaustion.

Each test drives the real app (or a real ``authlog run`` child) over real sockets and asserts
on what the event loop, the other producers and the log see, never on wall-clock time.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from shippers.config import config_from_dict
from shippers.sidecar.app import make_app

MiB = 1024 * 1024
# Why: the finding's budget: no event-loop callback may run longer than this while a body is processed.
SLOW_CALLBACK_SECONDS = 0.1
# Why: a generous bound on one request over loopback; only there so a broken server fails instead of hanging.
REQUEST_TIMEOUT_SECONDS = 120.0


def _event_line(index: int) -> bytes:
    padding = "p" * 180
    return msgspec.json.encode({"id": f"e-{index}-{padding}", "type": "login.completed", "userId": f"u-{index}"}) + b"\n"


def _events_ndjson(size: int) -> bytes:
    lines, total, index = [], 0, 0
    while total < size - 512:
        line = _event_line(index)
        lines.append(line)
        total += len(line)
        index += 1
    return b"".join(lines)


def _rejected_ndjson(size: int) -> bytes:
    line = b'{"type": "login.complete", "userId": "' + b"u" * 150 + b'"}\n'  # a typo: each earns a rejection message
    return line * min(size // len(line), 50_000)


def _many_empty_members(size: int) -> bytes:
    member = gzip.compress(b"")
    return member * (size // len(member))


SHAPES: dict[str, Callable[[], tuple[bytes, dict[str, str]]]] = {
    "many empty gzip members": lambda: (_many_empty_members(10 * MiB), {"Content-Encoding": "gzip"}),
    "one huge gzip member of events": lambda: (gzip.compress(_events_ndjson(10 * MiB), 1), {"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}),
    "one huge gzip member of noise": lambda: (gzip.compress(os.urandom(10 * MiB - 64 * 1024), 1), {"Content-Encoding": "gzip"}),
    "10 MiB JSON array of tiny items": lambda: (b"[" + b",".join([b"0"] * (5 * MiB - 1)) + b"]", {}),
    "10 MiB JSON array of empty objects": lambda: (b"[" + b",".join([b"{}"] * (10 * MiB // 3)) + b"]", {}),
    "10 MiB of NDJSON blank lines": lambda: (b"\n" * (10 * MiB), {"Content-Type": "application/x-ndjson"}),
    "10 MiB NDJSON of events": lambda: (_events_ndjson(10 * MiB), {"Content-Type": "application/x-ndjson"}),
    "10 MiB NDJSON of events that are all rejected": lambda: (_rejected_ndjson(10 * MiB), {"Content-Type": "application/x-ndjson"}),
    "deep nesting": lambda: (b"[" * (10 * MiB), {}),
    "deep nesting inside an item": lambda: (b'[{"type": "login.completed", "x": ' + b"[" * (10 * MiB - 64) + b"}]", {}),
}


def _post(port: int, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        conn.request("POST", "/v1/events", body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# The harness's own task (server setup, the wait for the client thread, teardown) is not the server
# under test: its steps free a 10 MiB body and start a full garbage collection on a loaded machine.
_HARNESS_STEP = re.compile(r"coro=<[^ ]*\.scenario\(\) ")


class _SlowCallbacks:
    """Times every event-loop callback (asyncio.events.Handle._run) on the wall clock and on this process's CPU clock.

    A callback is slow when both passed SLOW_CALLBACK_SECONDS: the loop was held that long *and* this process
    worked that long meanwhile (the callback's own work, or another thread holding the interpreter lock, as a
    validator or decompressor would). On a loaded machine the wall clock alone also counts the time other
    processes had the cores (seen here: a 150 ms spin got 21 ms of CPU), which is no stall this server caused;
    the CPU clock alone would count other threads working in parallel without the lock. Hostile bodies cost
    CPU, which this catches; a blocking call on the loop (no CPU) is the store-fault tests' concern.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._original = asyncio.events.Handle._run

    def __enter__(self) -> _SlowCallbacks:
        original, seen = self._original, self.seen

        def timed_run(handle: asyncio.events.Handle) -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                original(handle)
            finally:
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if min(wall, cpu) > SLOW_CALLBACK_SECONDS:
                    described = repr(handle)
                    if not _HARNESS_STEP.search(described):
                        seen.append(f"{described[:160]} held the loop {wall:.3f} s, {cpu:.3f} s of this process's CPU")

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_no_event_loop_callback_runs_long_while_a_hostile_body_is_processed(tmp_path: Path, shape: str) -> None:
    """Whatever the shape of a 10 MiB body, no event-loop callback holds the loop over 100 ms of this process's work and the answer is never a 5xx."""
    from shippers.shipper import Shipper

    body, headers = SHAPES[shape]()
    config = config_from_dict(
        {"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"local": {"type": "file", "path": str(tmp_path / "out.ndjson")}}},
        base_dir=tmp_path,
    )
    shipper = Shipper.from_config(config)

    async def scenario() -> int:
        runner = web.AppRunner(make_app(shipper, []), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            return await asyncio.get_running_loop().run_in_executor(None, _post, port, body, headers)
        finally:
            await runner.cleanup()

    try:
        with _SlowCallbacks() as slow:
            status = asyncio.run(scenario())
    finally:
        shipper.close(1.0)
    assert status < 500
    assert slow.seen == []


# -- slow bodies -------------------------------------------------------------------------------

GOOD_EVENT = b'{"type": "login.completed", "userId": "u-1"}'
# Why: polling steps of the bounded loops below; short so the tests finish promptly.
POLL_SECONDS = 0.01


def _real_shipper(tmp_path: Path, **server: object) -> object:
    from shippers.shipper import Shipper

    return Shipper.from_config(config_from_dict(
        {"server": server, "buffer": {"path": str(tmp_path / "buf")},
         "sinks": {"local": {"type": "file", "path": str(tmp_path / "out.ndjson")}}},
        base_dir=tmp_path,
    ))


def _request_head(length: int) -> bytes:
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


async def _read_status(reader: asyncio.StreamReader) -> int:
    answer = await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT_SECONDS)
    return int(answer.split(b" ", 2)[1]) if answer else 0


def test_slow_bodies_never_delay_a_fast_producer(tmp_path: Path) -> None:
    """With more trickling bodies than ingest slots, a normal producer is acknowledged while every slow one is still pending (each then completes)."""
    from shippers.sidecar.app import MAX_INGESTS_IN_FLIGHT

    shipper = _real_shipper(tmp_path)
    slow_count = MAX_INGESTS_IN_FLIGHT + 4

    async def scenario() -> tuple[int, list[int]]:
        runner = web.AppRunner(make_app(shipper, []), access_log=None)  # type: ignore[arg-type]
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(slow_count)]
            for _, writer in slow:
                writer.write(_request_head(len(GOOD_EVENT)) + GOOD_EVENT[:5])  # headers and a first trickle
                await writer.drain()
            # Bounded wait until the server has started handling every slow request.
            deadline = asyncio.get_running_loop().time() + REQUEST_TIMEOUT_SECONDS
            while runner.server.requests_count < slow_count:  # type: ignore[union-attr]
                assert asyncio.get_running_loop().time() < deadline, "the slow requests never reached the server"
                await asyncio.sleep(POLL_SECONDS)
            for _ in range(3):
                await asyncio.sleep(0)  # let each handler task run up to its first wait
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_request_head(len(GOOD_EVENT)) + GOOD_EVENT)
            fast_status = await _read_status(reader)
            writer.close()
            # Only now do the slow producers finish their bodies: had they been cut off (408), they would not get a 202.
            for _, slow_writer in slow:
                slow_writer.write(GOOD_EVENT[5:])
            slow_statuses = [await _read_status(slow_reader) for slow_reader, _ in slow]
            for _, slow_writer in slow:
                slow_writer.close()
            return fast_status, slow_statuses
        finally:
            await runner.cleanup()

    try:
        fast, slow_statuses = asyncio.run(scenario())
    finally:
        shipper.close(1.0)  # type: ignore[attr-defined]
    assert fast == 202
    assert slow_statuses == [202] * slow_count


# -- descriptor exhaustion ---------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
# Why: the finding's setting: a sidecar with few descriptors, so idle sockets can exhaust them.
CHILD_FD_LIMIT = 64
# Why: well past what a 64-descriptor process can hold open.
IDLE_SOCKETS = 150
# Why: a cold `authlog run` imports the adapter SDKs; 60 s covers a loaded CI box.
START_TIMEOUT_SECONDS = 60.0
# Why: the sidecar's log for this whole scenario: start-up, one rate-limited refusal warning,
# shutdown. Unbounded logging (a traceback per refused accept) blows far past it.
MAX_LOG_LINES = 40


def _limit_fds() -> None:  # runs in the child between fork and exec
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (CHILD_FD_LIMIT, CHILD_FD_LIMIT))


def test_idle_sockets_past_the_fd_limit_cannot_lock_out_a_producer(tmp_path: Path) -> None:
    """A sidecar limited to 64 fds, flooded with 150 idle sockets, still takes a normal producer's event (idle ones time out) and its log stays small."""
    import signal
    import socket
    import subprocess
    import sys
    import time

    from shippers.client import NO_RETRY, Client, RetryPolicy

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "authlog.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\nidle_timeout = "1s"\n\n[buffer]\npath = "./var/buf"\n\n'
        '[sinks.local]\ntype = "file"\npath = "./var/out/events.ndjson"\n'
    )
    log_path = tmp_path / "sidecar.log"
    with log_path.open("wb") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-c", "from shippers.cli import main; main()", "run", "-c", str(config), "--grace", "5s"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_limit_fds,
        )
    url = f"http://127.0.0.1:{port}"
    idle: list[socket.socket] = []
    try:
        probe_client = Client(url, retry=NO_RETRY, timeout=2)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not probe_client.ready():
            assert child.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(POLL_SECONDS * 5)
        for _ in range(IDLE_SOCKETS):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        producer = Client(url, retry=RetryPolicy(attempts=20, initial=0.2, max=1.0), timeout=10)
        result = producer.send([{"type": "login.completed", "userId": "u-1"}])
        assert result.accepted == 1
    finally:
        for sock in idle:
            sock.close()
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(START_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(START_TIMEOUT_SECONDS)
    lines = log_path.read_text(errors="replace").splitlines()
    assert len(lines) <= MAX_LOG_LINES, "\n".join(lines[:60])
    assert any("refusing a connection" in line for line in lines)
    assert not any("Too many open files" in line for line in lines)  # the cap kept accepts below the fd limit
