"""Failure paths of the core: a sink keeps delivering after unexpected errors, poison events cost only themselves,
a DLQ replay ends, drop_oldest loses only what it counts, a process forked after configure() is told so instead of hanging,
a sink's status counts every failure of batches in flight at once, and the store-error log's rate limit runs on the injected clock."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from adapters.contract import Request, Verdict
from shippers.delivery.restart import STORE_ERROR_LOG_SECONDS
from shippers.delivery.status import FAILING_AFTER_ATTEMPTS
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.chaos import ChaosAdapter
from shippers.testing.memory import delivered_ids
from shippers.testing.waiting import wait_for

# Why: bounded waits (real time) for worker threads to get somewhere; 20 s means they never will.
POLL_DEADLINE_SECONDS = 20.0
# Why: four batches in flight at once, one per pool thread.
IN_FLIGHT = 4


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
    buffer.record_cut("s", [("p1", None, [1, 10]), ("p2", None, [5, 20])], [], 20)
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


def test_failing_after_n_attempts_counts_every_failure_of_batches_in_flight(
    make_shipper: Callable[..., Shipper], fake_sleep: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Four batches failing at the same instant on four pool threads, then one more failure: the sink is 'failing' with exactly N in a row, each log line numbered 1..N once."""
    answered = threading.Barrier(IN_FLIGHT)
    release = threading.Event()
    lock = threading.Lock()
    calls = {"sent": 0, "parked": 0}

    def send(self: ChaosAdapter, request: Request) -> Verdict:
        with lock:
            calls["sent"] += 1
            n = calls["sent"]
        if n <= IN_FLIGHT:
            answered.wait(POLL_DEADLINE_SECONDS)  # the four answers come back together
        if n <= FAILING_AFTER_ATTEMPTS:
            return Verdict.retry("503 busy")
        with lock:
            calls["parked"] += 1  # this thread is done with every failure it had
        release.wait(POLL_DEADLINE_SECONDS)
        return Verdict.delivered()

    monkeypatch.setattr(ChaosAdapter, "send", send)
    shipper = make_shipper({"c": {"type": "chaos", "concurrency": IN_FLIGHT, "batch": {"max_events": 5, "timeout": "0s"}}},
                           sleep=fake_sleep, start=False)
    shipper.ingest_raw(events(5 * IN_FLIGHT))
    caplog.set_level(logging.WARNING, "shippers.worker")
    shipper.start()
    try:
        wait_for(lambda: calls["parked"] == IN_FLIGHT, "every pool thread past its failures")
        status = shipper.workers["c"].status
        numbers = sorted(int(m.group(1)) for r in caplog.records if (m := re.search(r"attempt (\d+) in a row", r.getMessage())))
        assert numbers == list(range(1, FAILING_AFTER_ATTEMPTS + 1)), numbers
        assert (status.state, status.consecutive_failures) == ("failing", FAILING_AFTER_ATTEMPTS)
        assert shipper.status()["sinks"]["c"]["state"] == "failing"
    finally:
        release.set()
    assert shipper.flush(POLL_DEADLINE_SECONDS)
    assert shipper.workers["c"].status.state == "active"


def test_the_store_error_log_rate_limit_runs_on_the_injected_monotonic_clock(
    make_shipper: Callable[..., Shipper], caplog: pytest.LogCaptureFixture
) -> None:
    """Two store errors a (fake) minute and more apart are both logged: the rate limit reads the worker's injected clock, not time.monotonic()."""
    from shippers.buffer.faults import store_fault

    mono = {"now": 5_000.0}

    def sleep(seconds: float) -> None:  # time passes only when the worker waits: each wait outlasts the log's rate limit
        mono["now"] += max(seconds, STORE_ERROR_LOG_SECONDS + 1)
        time.sleep(0.001)

    shipper = make_shipper({"m": {"type": "memory"}}, sleep=sleep, monotonic=lambda: mono["now"], start=False)
    shipper.ingest_raw(events(10))
    real_cut = shipper.buffer.record_cut
    failures = [sqlite3.OperationalError("database is locked"), sqlite3.OperationalError("database is locked")]

    def cut(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise store_fault(failures.pop(0), shipper.buffer.file)
        return real_cut(*args, **kwargs)

    shipper.buffer.record_cut = cut  # type: ignore[method-assign]
    caplog.set_level(logging.ERROR, "shippers.worker")
    shipper.start()
    wait_for(lambda: len(delivered_ids("m")) == 10, "delivery after two store errors")
    said = [r.getMessage() for r in caplog.records if r.name == "shippers.worker" and "the store failed" in r.getMessage()]
    assert len(said) == 2, said
