"""The byte budget for bodies in memory: chunks reserve what they hold, a full budget makes a request wait, then 503."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
from sidecar_fakes import FakeShipper, ServedApp, make_config

from shippers.sidecar import app as app_module
from shippers.sidecar.budget import BudgetExhausted, ByteBudget

# Why: bounded polling of the server's state; long enough for a loaded CI box.
POLL_DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.01


def test_a_full_budget_refuses_after_the_wait_and_a_release_lets_a_waiter_in() -> None:
    """Reservations past the total wait; one that finds no room within its wait raises, one that gets a release proceeds."""

    async def scenario() -> tuple[bool, int]:
        budget = ByteBudget(100)
        async with budget.hold() as first:
            await first.reserve(80, wait=1.0)
            refused = False
            try:
                await budget.reserve(30, wait=0.01)
            except BudgetExhausted:
                refused = True
            waiter = asyncio.ensure_future(budget.reserve(30, wait=60.0))
            await asyncio.sleep(0)
            assert not waiter.done()
        await asyncio.wait_for(waiter, 60.0)  # the hold released its 80 bytes on exit
        return refused, budget.used

    refused, used = asyncio.run(scenario())
    assert refused and used == 30


def test_bodies_filling_the_budget_make_a_new_request_a_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the bodies really in memory fill the budget, another request is told to retry (503 + Retry-After), nothing stored."""
    monkeypatch.setattr(app_module, "BODIES_IN_MEMORY", 1)
    monkeypatch.setattr(app_module, "BODY_BUDGET_WAIT_SECONDS", 0.05)
    shipper = FakeShipper(make_config(tmp_path, max_body_bytes=64 * 1024, max_events_per_request=100))
    with ServedApp(shipper, []) as served:
        hog = socket.create_connection((served.host, served.port))
        try:
            # 120 KiB announced, 110 KiB sent: the budget (64 KiB + 64 KiB gzip slack) is nearly all held.
            hog.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 122880\r\n\r\n")
            hog.sendall(b"\x00" * (110 * 1024))
            budget = served._runner.app[app_module.STATE].budget  # type: ignore[union-attr]
            deadline = time.monotonic() + POLL_DEADLINE_SECONDS
            while budget.used < 110 * 1024:  # bounded wait until the server holds what the hog sent
                assert time.monotonic() < deadline, budget.used
                time.sleep(POLL_SECONDS)
            body = b"[" + b",".join([b'{"type": "login.completed"}'] * 900) + b"]"
            status, response_headers, raw = served.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
        finally:
            hog.close()
    assert status == 503 and response_headers["Retry-After"].isdigit()
    assert "retry" in json.loads(raw)["error"]
    assert shipper.commits == 0
