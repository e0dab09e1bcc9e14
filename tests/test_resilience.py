"""Failure paths of the core: a sink keeps delivering after unexpected errors, poison events cost only themselves,
a DLQ replay ends, drop_oldest loses only what it counts, and a process forked after configure() is told so instead of hanging."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

import pytest

from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.chaos import ChaosAdapter
from shippers.testing.memory import delivered_ids


def NO_KEY(first: int, last: int) -> None:
    """No destination key (the memory/chaos sinks need none)."""
    return None


def events(n: int, prefix: str = "e") -> list[bytes]:
    return [b'{"id":"%s%d","type":"login.completed"}' % (prefix.encode(), i) for i in range(n)]


def test_an_unexpected_store_error_restarts_delivery(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """A transient 'database is locked' inside the worker is logged and delivery resumes; the sink never silently dies."""
    shipper = make_shipper({"a": {"type": "memory"}, "b": {"type": "memory"}}, sleep=fake_sleep)
    real_settle = shipper.buffer.settle
    failed: list[int] = []

    def settle_once_broken(batch, **kwargs):  # type: ignore[no-untyped-def]
        if batch.sink == "a" and not failed:
            failed.append(batch.id)
            raise sqlite3.OperationalError("database is locked")
        return real_settle(batch, **kwargs)

    shipper.buffer.settle = settle_once_broken  # type: ignore[method-assign]
    shipper.ingest_raw(events(10))
    assert shipper.flush(10)
    assert failed and shipper.workers["a"].alive
    assert set(delivered_ids("a")) == {f"e{i}" for i in range(10)}  # the unsettled batch is resent: at least once


def test_an_adapter_exception_dead_letters_only_that_event(make_shipper: Callable[..., Shipper], monkeypatch: pytest.MonkeyPatch) -> None:
    """partition() raising for one event puts that event in the DLQ with the error; the others are delivered."""
    original = ChaosAdapter.partition

    def partition(self: ChaosAdapter, event):  # type: ignore[no-untyped-def]
        if event.id == "e3":
            raise ValueError("bad tenant")
        return original(self, event)

    monkeypatch.setattr(ChaosAdapter, "partition", partition)
    shipper = make_shipper({"c": {"type": "chaos"}})
    shipper.ingest_raw(events(10))
    assert shipper.flush(10)
    assert len(chaos.delivered["c"]) == 9
    [dead] = shipper.dead_letters("c")
    assert dead.event.id == "e3" and "bad tenant" in dead.reason


def test_a_recorded_batch_that_no_longer_maps_is_dead_lettered_at_restart(make_shipper, monkeypatch: pytest.MonkeyPatch, fake_sleep) -> None:
    """After a restart with a mapping that now fails for one recorded event, that event is dead-lettered and the rest resent."""
    chaos.script("c").permanent("503 down")
    first = make_shipper({"c": {"type": "chaos", "batch": {"timeout": "0s"}}}, sleep=fake_sleep)
    first.ingest_raw(events(10))
    first.flush(0.5)
    assert first.buffer.open_batches("c")
    first.close(timeout=1)
    chaos.script("c").clear()
    original = ChaosAdapter.map

    def mapping(self: ChaosAdapter, event):  # type: ignore[no-untyped-def]
        if event.id == "e3":
            raise KeyError("field renamed in the new version")
        return original(self, event)

    monkeypatch.setattr(ChaosAdapter, "map", mapping)
    second = make_shipper({"c": {"type": "chaos"}}, sleep=fake_sleep)
    assert second.flush(10)
    assert sorted(e.id for e in chaos.delivered["c"]) == sorted(f"e{i}" for i in range(10) if i != 3)
    assert [d.event.id for d in second.dead_letters("c")] == ["e3"]


def test_replay_takes_only_the_letters_present_when_it_starts(make_shipper: Callable[..., Shipper]) -> None:
    """A replay of events the destination still refuses ends: refused again, they wait for the next replay."""
    chaos.script("r").reject_ids({"e1", "e2"})
    shipper = make_shipper({"r": {"type": "chaos"}})
    shipper.ingest_raw(events(4))
    assert shipper.flush(10)
    assert shipper.replay_dead_letters("r") == 2
    assert shipper.flush(10)
    assert sorted(d.event.id for d in shipper.dead_letters("r")) == ["e1", "e2"]


def test_drop_oldest_never_loses_an_uncounted_event(make_shipper: Callable[..., Shipper]) -> None:
    """With interleaved recorded batches, drop_oldest drops whole batches and the watermark never passes a kept one."""
    shipper = make_shipper({"s": {"type": "memory", "when_full": "drop_oldest", "max_backlog": 3800}}, start=False)
    shipper.buffer.register_sinks(shipper._policies())  # what a deliverer does at start, without its workers
    shipper.ingest_raw([b'{"id":"e%02d","type":"login.completed"}' % i for i in range(20)])
    buffer = shipper.buffer
    buffer.record_cut("s", [("p1", NO_KEY, [1, 10]), ("p2", NO_KEY, [5, 20])], [], 20)
    shipper.ingest_raw([b'{"id":"n","type":"login.completed"}'])
    watermark, _ = buffer.position("s")
    kept = buffer.open_batches("s")
    assert all(batch.first_seq > watermark for batch in kept)
    [row] = [r for r in buffer.sinks() if r.name == "s"]
    assert row.dropped == 4  # the two pending items of each dropped batch, nothing uncounted
    assert watermark == 20


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_after_configure_gets_a_clear_error_not_a_hang(make_shipper: Callable[..., Shipper]) -> None:
    """gunicorn --preload: a child forked after the store was opened is told to configure after the fork, instead of hanging in SQLite."""
    from shippers.errors import BufferForkedError

    shipper = make_shipper({"m": {"type": "memory"}})
    shipper.emit("login.completed", id="parent")
    pid = os.fork()
    if pid == 0:  # the child: its exit code says what happened
        try:
            shipper.emit("login.completed", id="child")
            os._exit(3)
        except BufferForkedError as exc:
            os._exit(0 if "post_fork" in str(exc) else 4)
        except BaseException:
            os._exit(5)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert shipper.flush(10)
    assert delivered_ids("m") == ["parent"]
