"""Fault injection, clock steps: the wall clock jumps an hour back or a day forward mid-stream.

Every test runs a real Shipper (threads and all) with two injected clocks the test moves by hand:
``wall`` (what is shown and stored: receipt times, lastDeliveryAt, DLQ times) and ``mono`` (what
every timeout, deadline and backoff is measured on). A *step* moves only the wall clock, as NTP or an
operator does; ``advance`` moves both, as time passing does. Nothing here waits on real time except
bounded polls for a worker thread to get somewhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.utils import formatdate

from shippers.delivery.retry import backoff_ceiling
from shippers.shipper import Shipper
from shippers.testing import chaos, memory
from shippers.testing.memory import delivered_ids
from shippers.testing.scripted_http import Answer, ScriptedHTTPServer
from shippers.testing.waiting import wait_for

WALL_START = 1_795_000_000.0  # 2026-11-18, seconds since the epoch
MONO_START = 5_000.0  # a monotonic clock starts anywhere
HOUR = 3600.0
DAY = 86_400.0
TIMEOUT = 10.0  # the batch timeout of the sinks below
# Why: how long (real time) a test waits for a worker thread to get somewhere before failing.
POLL_LIMIT_SECONDS = 10.0
# Why: reads of the monotonic clock by the sink thread after a change that prove a whole cycle
# (cut decision and any delivery) used the changed clocks. A worker with events waiting reads it
# once as a cycle starts and once for its idle wait: the first read may end a cycle that decided
# earlier, the second starts a fresh one, the third comes only after that one finished.
READS_PER_CYCLE = 3


class Clocks:
    """A wall and a monotonic clock moved by hand; counts the sink threads' monotonic reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.wall_now = WALL_START
        self.mono_now = MONO_START
        self.sink_reads = 0

    def wall(self) -> float:
        return self.wall_now

    def mono(self) -> float:
        with self._lock:
            if threading.current_thread().name.startswith("sink-"):
                self.sink_reads += 1
            return self.mono_now

    def advance(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        with self._lock:
            self.wall_now += seconds
            self.mono_now += seconds

    def step_wall(self, seconds: float) -> None:
        """The wall clock is set (NTP, an operator): only it moves."""
        with self._lock:
            self.wall_now += seconds


class SteppingSleep:
    """A worker's backoff sleep: records the wait, lets that much time pass, then steps the wall clock.

    The steps alternate between an hour back and a day forward, so a wait or deadline measured on
    the wall clock would be stretched by an hour or skipped.
    """

    def __init__(self, clocks: Clocks) -> None:
        self.clocks = clocks
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clocks.advance(seconds)
        self.clocks.step_wall(-HOUR if len(self.waits) % 2 else DAY)
        time.sleep(0.001)  # yield the CPU so a sink failing forever does not spin a core


def ingest(shipper: Shipper, n: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(n)]
    result = shipper.ingest_raw([b'{"id":"%s","type":"login.completed","userId":"u"}' % i.encode() for i in ids])
    assert result.accepted == n
    return ids


def let_workers_look(shipper: Shipper, clocks: Clocks) -> None:
    """Return once the sink worker has run a whole cycle with the clocks as they are now."""
    target = clocks.sink_reads + READS_PER_CYCLE
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while clocks.sink_reads < target:
        assert time.monotonic() < deadline, "the sink worker stopped cycling"
        for worker in shipper.workers.values():
            worker.wake.set()
        time.sleep(0.002)




def memory_sink(**batch: object) -> dict[str, object]:
    return {"m": {"type": "memory", "batch": {"timeout": f"{TIMEOUT}s", **batch}}}


def run_one_batch_across_a_step(make_shipper: Callable[..., Shipper], step: float) -> None:
    """Two events, 4 s, a wall step, two more events: nothing before 10 s of monotonic time, then one batch of four."""
    clocks = Clocks()
    shipper = make_shipper(memory_sink(), clock=clocks.wall, monotonic=clocks.mono)
    ids = ingest(shipper, 2, "a")
    let_workers_look(shipper, clocks)
    clocks.advance(4)
    clocks.step_wall(step)
    ids += ingest(shipper, 2, "b")
    let_workers_look(shipper, clocks)
    assert delivered_ids("m") == [], "cut right after the step, before the batch timeout"
    clocks.advance(TIMEOUT - 4 - 0.5)
    let_workers_look(shipper, clocks)
    assert delivered_ids("m") == [], "cut before the oldest event had waited the batch timeout"
    clocks.advance(1)
    wait_for(lambda: len(delivered_ids("m")) == 4, "the batch, due by monotonic time")
    assert sorted(delivered_ids("m")) == sorted(ids)
    assert len(memory.MemoryAdapter.requests["m"]) == 1


def test_a_backward_step_does_not_stall_a_waiting_batch(make_shipper: Callable[..., Shipper]) -> None:
    """With the wall clock set an hour back mid-batch, the batch is still cut once its oldest event waited 10 s of monotonic time."""
    run_one_batch_across_a_step(make_shipper, -HOUR)


def test_a_forward_step_does_not_cut_a_batch_early(make_shipper: Callable[..., Shipper]) -> None:
    """With the wall clock set a day forward mid-batch, the batch still waits out its 10 s of monotonic time."""
    run_one_batch_across_a_step(make_shipper, DAY)


def test_after_a_restart_stored_events_go_at_once_and_new_ones_wait_the_timeout(make_shipper: Callable[..., Shipper]) -> None:
    """Events stored before a restart (whose host clock came back an hour behind) are cut at once; events after it wait the timeout."""
    clocks = Clocks()
    before = make_shipper(memory_sink(), clock=clocks.wall, monotonic=clocks.mono, start=False)  # appends only
    old = ingest(before, 3, "old")
    before.close(timeout=5)
    clocks.step_wall(-HOUR)
    after = make_shipper(memory_sink(), clock=clocks.wall, monotonic=clocks.mono)
    wait_for(lambda: len(delivered_ids("m")) == 3, "the events stored before the restart")
    assert sorted(delivered_ids("m")) == sorted(old)
    new = ingest(after, 2, "new")
    let_workers_look(after, clocks)
    clocks.advance(TIMEOUT - 0.5)
    let_workers_look(after, clocks)
    assert len(delivered_ids("m")) == 3, "an event appended after the restart was cut before its timeout"
    clocks.advance(1)
    wait_for(lambda: len(delivered_ids("m")) == 5, "the events appended after the restart")
    assert sorted(delivered_ids("m")) == sorted(old + new)


def test_retry_backoff_and_retry_after_are_not_stretched_or_skipped_by_steps(make_shipper: Callable[..., Shipper]) -> None:
    """A Retry-After of 30 s and two 5xx backoffs wait exactly what they should while every wait steps the wall clock back or forward."""
    clocks = Clocks()
    sleep = SteppingSleep(clocks)
    chaos.script("c").throttle(retry_after=30).fail(times=2)
    sinks = {"c": {"type": "chaos", "batch": {"timeout": "0s"}, "retry": {"initial": "1s", "max": "10s"}}}
    shipper = make_shipper(sinks, clock=clocks.wall, monotonic=clocks.mono, sleep=sleep)
    ids = ingest(shipper, 5, "r")
    wait_for(lambda: len(chaos.delivered["c"]) == 5, "delivery after the retries")
    assert sorted(e.id for e in chaos.delivered["c"]) == sorted(ids)
    assert chaos.script("c").attempts == 4
    assert sleep.waits[0] == 30.0  # the hint, neither an hour more nor skipped
    assert len(sleep.waits) == 3
    for attempt, wait in enumerate(sleep.waits[1:], start=2):
        assert 0.0 <= wait <= backoff_ceiling(1.0, 10.0, attempt)


def test_flush_deadline_holds_across_steps(make_shipper: Callable[..., Shipper]) -> None:
    """flush(30) on a sink that never recovers returns False after 30 s of monotonic time, though the wall clock went back and forward meanwhile."""
    clocks = Clocks()
    sleep = SteppingSleep(clocks)
    chaos.script("c").permanent("403 Forbidden")
    sinks = {"c": {"type": "chaos", "batch": {"timeout": "0s"}, "retry": {"initial": "1s", "max": "10s"}}}
    shipper = make_shipper(sinks, clock=clocks.wall, monotonic=clocks.mono, sleep=sleep)
    ingest(shipper, 5, "f")
    started = clocks.mono()
    result: list[bool] = []
    flusher = threading.Thread(target=lambda: result.append(shipper.flush(30)), daemon=True)
    flusher.start()
    flusher.join(POLL_LIMIT_SECONDS)
    assert not flusher.is_alive(), "flush() outlived its deadline (measured on the wall clock?)"
    assert result == [False]
    assert clocks.mono() - started >= 30, "flush() gave up before 30 s of monotonic time (a forward step skipped it?)"
    assert len(sleep.waits) >= 2, "the wall clock did not step both ways during the flush"


def test_close_delivers_a_waiting_batch_and_returns_within_its_deadline(make_shipper: Callable[..., Shipper]) -> None:
    """After a backward step leaves a batch an hour from due by the wall clock, close(5) still cuts and delivers it and returns True."""
    clocks = Clocks()
    shipper = make_shipper(memory_sink(), clock=clocks.wall, monotonic=clocks.mono)
    ids = ingest(shipper, 3, "c")
    let_workers_look(shipper, clocks)
    clocks.step_wall(-HOUR)
    result: list[bool] = []
    closer = threading.Thread(target=lambda: result.append(shipper.close(timeout=5)), daemon=True)
    closer.start()
    closer.join(POLL_LIMIT_SECONDS)
    assert not closer.is_alive() and result == [True]
    assert sorted(delivered_ids("m")) == sorted(ids)


def test_status_shows_wall_times_and_measures_uptime_on_the_monotonic_clock(make_shipper: Callable[..., Shipper]) -> None:
    """After an hour-back step, lastDeliveryAt and DLQ times are the (stepped) wall time, and uptime is monotonic time, never negative."""
    clocks = Clocks()
    chaos.script("c").reject_ids({"s-1"})
    shipper = make_shipper({"c": {"type": "chaos", "batch": {"timeout": "0s"}}}, clock=clocks.wall, monotonic=clocks.mono)
    clocks.advance(7)
    clocks.step_wall(-HOUR)
    stepped_wall = clocks.wall()
    ingest(shipper, 3, "s")
    wait_for(lambda: shipper.status()["sinks"]["c"]["delivered"] == 2, "delivery")
    status = shipper.status()
    assert status["uptimeSeconds"] == 7.0
    assert status["sinks"]["c"]["lastDeliveryAt"] == stepped_wall
    [dead] = shipper.dead_letters("c")
    assert dead.at == stepped_wall


def test_events_queued_behind_a_throttled_batch_are_not_held_another_timeout(make_shipper: Callable[..., Shipper]) -> None:
    """Events already stored behind a full batch that waits out a 30 s Retry-After are sent right after it, not 10 s later."""
    clocks = Clocks()
    sleep = SteppingSleep(clocks)
    chaos.script("c").throttle(retry_after=30)
    # One request in flight: at 2 the second batch waits out the same 30 s pause on its own thread (a second
    # call of the stepping sleep), which is right but not what this test counts.
    sinks = {"c": {"type": "chaos", "concurrency": 1, "batch": {"timeout": f"{TIMEOUT}s", "max_events": 2}}}
    shipper = make_shipper(sinks, clock=clocks.wall, monotonic=clocks.mono, sleep=sleep)
    ids = ingest(shipper, 5, "q")  # two full batches and a tail of one
    wait_for(lambda: len(chaos.delivered["c"]) == 5, "the tail, due since it was stored behind the first batch")
    assert sorted(e.id for e in chaos.delivered["c"]) == sorted(ids)
    assert sleep.waits == [30.0]


def test_a_retry_after_date_is_measured_on_the_servers_clock_not_our_stepped_one(make_shipper: Callable[..., Shipper]) -> None:
    """Our wall clock an hour behind the intake's, a 429 'Retry-After: <its now + 20 s>' makes the worker wait 20 s, not the 300 s cap."""
    clocks = Clocks()
    sleep = SteppingSleep(clocks)
    server_now = clocks.wall()
    clocks.step_wall(-HOUR)
    throttled = Answer(429, {"Retry-After": formatdate(server_now + 20, usegmt=True), "Date": formatdate(server_now, usegmt=True)})
    with ScriptedHTTPServer(Answer(202, {"Content-Type": "application/json"}, b"{}")) as intake:
        intake.queue(throttled)
        sink = {"type": "datadog", "api_key": "dd-test-key-0123456789abcdef", "endpoint": intake.url, "hostname": "web-1",
                "batch": {"timeout": "0s"}}
        shipper = make_shipper({"dd": sink}, clock=clocks.wall, monotonic=clocks.mono, sleep=sleep)
        ingest(shipper, 3, "d")
        wait_for(lambda: shipper.status()["sinks"]["dd"]["delivered"] == 3, "delivery after the throttle")
        shipper.close(timeout=5)
        assert [r.method for r in intake.requests] == ["POST", "POST"]
    assert sleep.waits == [20.0]
