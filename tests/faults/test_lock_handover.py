"""Fault injection on the delivery lock: a shipper closed (``shippers.configure()`` again, a settings reload)
while one send hangs past the close deadline hands the lock over once that send returns.

The hung send keeps the lock while it is in flight (no other deliverer may send that batch a second
time); as soon as it returns, the lock is released, so the new shipper in the same process (or any
other process) takes over delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import shippers.shipper as shipper_module
from adapters.contract import Request, Verdict
from shippers.buffer import SqliteBuffer
from shippers.shipper import Shipper
from shippers.testing.memory import MemoryAdapter, delivered_ids
from shippers.testing.waiting import wait_for

# Why: bounded polls; a handover happens within a few standby retries (shortened below) once the send returns.
POLL_DEADLINE_SECONDS = 15.0
# Why: a standby retry this short makes the takeover quick in tests (production: STANDBY_RETRY_SECONDS).
FAST_STANDBY_SECONDS = 0.02




class HangingSend:
    """The first send blocks until released (a destination that hangs past close()'s deadline)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._original = MemoryAdapter.send
        self._first = True

    def __call__(self, adapter: MemoryAdapter, request: Request) -> Verdict:
        if self._first:
            self._first = False
            self.entered.set()
            assert self.release.wait(POLL_DEADLINE_SECONDS), "the test never released the hung send"
        return self._original(adapter, request)


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Iterator[HangingSend]:
    hang = HangingSend()
    monkeypatch.setattr(MemoryAdapter, "send", lambda adapter, request: hang(adapter, request))
    monkeypatch.setattr(shipper_module, "STANDBY_RETRY_SECONDS", FAST_STANDBY_SECONDS)
    yield hang
    hang.release.set()


def config(tmp_path: Path) -> dict[str, Any]:
    return {"buffer": {"path": str(tmp_path / "buffer")}, "sinks": {"archive": {"type": "memory"}}}


def test_a_send_hung_past_close_releases_the_lock_when_it_returns(tmp_path: Path, hanging: HangingSend) -> None:
    """After close() times out on a hung send, the lock is released once the send returns and a new shipper takes over."""
    old = Shipper.from_config(config(tmp_path), deliver=True)
    old.emit("login.completed", userId="before")
    assert hanging.entered.wait(POLL_DEADLINE_SECONDS)
    assert old.close(0.05) is False  # the send is still in flight
    new = Shipper.from_config(config(tmp_path)).start(standby=True)  # what shippers.configure() does next
    try:
        for i in range(10):
            new.emit("login.completed", userId=f"after-{i}")
        assert not new.delivering  # the hung send still holds the lock: nobody may send its batch again
        hanging.release.set()
        wait_for(lambda: new.delivering, "the new shipper to take over delivery")
        assert new.flush(POLL_DEADLINE_SECONDS)
        assert len(delivered_ids("archive")) == 11
        assert len(set(delivered_ids("archive"))) == 11  # the hung batch was settled by its sender, not resent
    finally:
        new.close(5)


def test_another_process_can_take_the_lock_once_the_hung_send_returns(tmp_path: Path, hanging: HangingSend) -> None:
    """The lock itself (the flock other processes wait on) is free once the hung send returned."""
    old = Shipper.from_config(config(tmp_path), deliver=True)
    old.emit("login.completed", userId="u")
    assert hanging.entered.wait(POLL_DEADLINE_SECONDS)
    assert old.close(0.05) is False
    assert old.close(0.05) is False  # closed twice (an explicit close, then __exit__): still one release, once
    other = SqliteBuffer(tmp_path / "buffer", max_bytes=1 << 30)
    try:
        assert not other.acquire_delivery_lock()
        hanging.release.set()
        wait_for(other.acquire_delivery_lock, "the lock to be released")
    finally:
        other.close()


def test_a_lock_won_by_the_standby_after_close_is_given_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A standby that gets the lock just after close() ran releases it and starts no worker."""
    monkeypatch.setattr(shipper_module, "STANDBY_RETRY_SECONDS", FAST_STANDBY_SECONDS)
    holder = SqliteBuffer(tmp_path / "buffer", max_bytes=1 << 30)
    assert holder.acquire_delivery_lock()
    standby = Shipper.from_config(config(tmp_path)).start(standby=True)
    real_acquire = standby.buffer.acquire_delivery_lock
    won = threading.Event()

    def acquire_then_closed() -> bool:
        holder.release_delivery_lock()
        got = real_acquire()
        standby._closed.set()  # close() runs between the acquire and the check
        won.set()
        return got

    monkeypatch.setattr(standby.buffer, "acquire_delivery_lock", acquire_then_closed)
    assert won.wait(POLL_DEADLINE_SECONDS)
    assert standby._standby is not None
    standby._standby.join(POLL_DEADLINE_SECONDS)
    try:
        assert not standby.workers
        assert holder.acquire_delivery_lock(), "the standby kept the lock after close()"
    finally:
        holder.close()
        standby.close(1)
