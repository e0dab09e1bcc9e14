"""The core pipeline end to end in-process: fan-out, outcomes of each Verdict, DLQ, status and restarts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.memory import delivered_ids

SAMPLE_TYPES = ["login.completed", "login.invalid_password", "user.locked", "signup.completed"]


def ingest(shipper: Shipper, n: int, prefix: str = "e") -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(n)]
    items = [b'{"id":"%s","type":"%s","userId":"u"}' % (i.encode(), SAMPLE_TYPES[k % 4].encode()) for k, i in enumerate(ids)]
    result = shipper.ingest_raw(items)
    assert result.accepted == n and not result.rejected
    return ids


def chaos_ids(sink: str) -> list[str]:
    return [e.id for e in chaos.delivered[sink]]


def test_fans_out_to_every_sink_and_empties_the_buffer(make_shipper: Callable[..., Shipper]) -> None:
    """Every event reaches each sink exactly once, then the buffer deletes it."""
    shipper = make_shipper({"a": {"type": "memory"}, "b": {"type": "memory"}})
    ids = ingest(shipper, 1200)
    assert shipper.flush(20)
    assert sorted(delivered_ids("a")) == sorted(ids) == sorted(delivered_ids("b"))
    status = shipper.status()
    assert status["buffer"]["events"] == 0
    assert status["sinks"]["a"]["delivered"] == 1200 and status["sinks"]["a"]["lagEvents"] == 0


def test_routes_filter_by_type_outcome_and_tenant(make_shipper: Callable[..., Shipper]) -> None:
    """A sink's route takes only matching types (globs), outcomes and tenants."""
    shipper = make_shipper({
        "logins": {"type": "memory", "route": {"types": ["login.*"]}},
        "failures": {"type": "memory", "route": {"outcomes": ["failure"]}},
        "t1": {"type": "memory", "route": {"tenants": ["t1"]}},
    })
    shipper.ingest_raw([
        b'{"id":"1","type":"login.completed","tenantId":"t1"}',
        b'{"id":"2","type":"user.locked","tenantId":"t2"}',
        b'{"id":"3","type":"login.invalid_email"}',
    ])
    assert shipper.flush(10)
    assert sorted(delivered_ids("logins")) == ["1", "3"]
    assert sorted(delivered_ids("failures")) == ["2", "3"]
    assert delivered_ids("t1") == ["1"]


def test_one_failing_sink_never_holds_up_the_others(make_shipper: Callable[..., Shipper], fake_sleep: Callable[[float], None]) -> None:
    """With one sink failing permanently, the healthy one delivers all; the failing one shows its backlog, then catches up."""
    chaos.script("broken").permanent("403 Forbidden: check the API key")
    shipper = make_shipper({"healthy": {"type": "memory"}, "broken": {"type": "chaos"}}, sleep=fake_sleep)
    ids = ingest(shipper, 300)
    assert not shipper.flush(1.0)  # the broken sink cannot catch up
    assert sorted(delivered_ids("healthy")) == sorted(ids)
    status = shipper.status()["sinks"]
    assert status["broken"]["state"] == "failing"
    assert status["broken"]["lagEvents"] == 300
    assert "check the API key" in status["broken"]["lastError"]
    assert status["healthy"]["lagEvents"] == 0
    chaos.script("broken").clear()
    assert shipper.flush(20)
    assert sorted(chaos_ids("broken")) == sorted(ids)
    assert shipper.status()["sinks"]["broken"]["state"] == "active"


def test_throttle_honours_retry_after_without_a_hot_loop(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """A 429 with Retry-After: 30 makes the worker wait at least 30 s (injected sleep) before the one retry that succeeds."""
    chaos.script("t").throttle(retry_after=30, times=2)
    shipper = make_shipper({"t": {"type": "chaos"}}, sleep=fake_sleep)
    ids = ingest(shipper, 50)
    assert shipper.flush(10)
    assert sorted(chaos_ids("t")) == sorted(ids)
    assert chaos.script("t").attempts == 3  # two throttled, one delivered: no hot loop
    assert len(fake_sleep.waits) == 2 and all(w >= 30 for w in fake_sleep.waits)
    assert shipper.status()["sinks"]["t"]["retries"] == 2


def test_backoff_is_capped_exponential_with_jitter(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """Transient failures back off with full jitter below initial*2^n and never above retry.max."""
    chaos.script("t").fail(times=8)
    shipper = make_shipper({"t": {"type": "chaos", "retry": {"initial": "1s", "max": "10s"}}}, sleep=fake_sleep)
    ingest(shipper, 10)
    assert shipper.flush(10)
    assert len(fake_sleep.waits) == 8
    for attempt, wait in enumerate(fake_sleep.waits, start=1):
        assert 0 <= wait <= min(10, 2 ** (attempt - 1))


def test_per_item_retry_resends_only_the_failed_items(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """Items answered 'retry' are resent alone; delivered ones are not sent twice; rejected ones go to the DLQ."""
    chaos.script("p").per_item({1: "retry", 2: "reject", 3: "duplicate"})
    shipper = make_shipper({"p": {"type": "chaos", "batch": {"max_events": 5, "timeout": "0s"}}}, sleep=fake_sleep)
    ids = ingest(shipper, 5)
    assert shipper.flush(10)
    got = chaos_ids("p")
    assert sorted(got) == sorted([ids[0], ids[1], ids[3], ids[4]])  # id 1 delivered on the retry, exactly once
    assert got.count(ids[1]) == 1
    dead = shipper.dead_letters("p")
    assert [d.event.id for d in dead] == [ids[2]]
    assert dead[0].code == "rejected_by_destination" and "reject" in dead[0].reason
    sink = shipper.status()["sinks"]["p"]
    assert sink["duplicates"] == 1 and sink["deadLettered"] == 1 and sink["delivered"] == 3


def test_too_large_splits_until_it_fits(make_shipper: Callable[..., Shipper]) -> None:
    """A request over the destination's size is halved and resent until every half is accepted."""
    shipper = make_shipper({"s": {"type": "chaos", "max_request_events": 3, "batch": {"max_events": 16}}})
    ids = ingest(shipper, 16)
    assert shipper.flush(10)
    assert sorted(chaos_ids("s")) == sorted(ids)


def test_single_item_still_too_large_is_dead_lettered(make_shipper: Callable[..., Shipper]) -> None:
    """An item that is too large even alone goes to the DLQ with the reason, instead of looping."""
    chaos.script("s").too_large(times=1)
    shipper = make_shipper({"s": {"type": "chaos", "batch": {"max_events": 1}}})
    ids = ingest(shipper, 1)
    assert shipper.flush(10)
    [dead] = shipper.dead_letters("s")
    assert dead.event.id == ids[0] and dead.code == "too_large"


def test_rejected_ids_go_to_the_dlq_and_replay_through_the_normal_path(make_shipper: Callable[..., Shipper]) -> None:
    """Rejected events sit in the sink's DLQ with the reason; after the cause is fixed a replay delivers them to that sink only."""
    chaos.script("r").reject_ids({"e-3", "e-7"})
    shipper = make_shipper({"r": {"type": "chaos"}, "other": {"type": "memory"}})
    ids = ingest(shipper, 10)
    assert shipper.flush(10)
    assert sorted(d.event.id for d in shipper.dead_letters("r")) == ["e-3", "e-7"]
    assert shipper.status()["sinks"]["r"]["dlqEvents"] == 2
    chaos.script("r").rejected_ids.clear()
    progress: list[tuple[int, int]] = []
    assert shipper.replay_dead_letters("r", progress=lambda done, total: progress.append((done, total))) == 2
    assert progress[-1] == (2, 2)
    assert shipper.flush(10)
    assert sorted(chaos_ids("r")) == sorted(ids)
    assert shipper.dead_letters("r") == []
    assert sorted(delivered_ids("other")) == sorted(ids)  # the replay did not reach the other sink again


def test_restart_resends_recorded_batches_exactly_as_cut(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """Batches recorded before a stop are resent after a restart with the same seqs, nothing lost."""
    chaos.script("c").permanent("503 forever")
    first = make_shipper({"c": {"type": "chaos", "batch": {"max_events": 10, "timeout": "0s"}}}, sleep=fake_sleep)
    ids = ingest(first, 25)
    first.flush(0.5)
    recorded = first.buffer.open_batches("c")
    assert recorded, "the worker recorded its batches before sending"
    first.close(timeout=2)
    chaos.script("c").clear()
    second = make_shipper({"c": {"type": "chaos", "batch": {"max_events": 10, "timeout": "0s"}}}, sleep=fake_sleep)
    assert second.flush(10)
    assert sorted(chaos_ids("c")) == sorted(ids)


@pytest.mark.parametrize("when_full", ["block", "drop_oldest"])
def test_full_buffer_blocks_or_drops_oldest_for_that_sink_only(make_shipper: Callable[..., Shipper], fake_sleep, when_full: str) -> None:
    """A stuck sink at its backlog cap makes ingest fail (block) or loses its own oldest events, counted (drop_oldest)."""
    from shippers.errors import BufferFullError

    chaos.script("stuck").permanent("down")
    shipper = make_shipper(
        {"stuck": {"type": "chaos", "when_full": when_full, "max_backlog": "20KiB"}, "ok": {"type": "memory"}},
        sleep=fake_sleep,
    )
    for round_ in range(10):
        try:
            ingest(shipper, 50, prefix=f"r{round_}")
        except BufferFullError as exc:
            assert when_full == "block" and "stuck" in str(exc)
            break
    else:
        assert when_full == "drop_oldest"
    sink = shipper.status()["sinks"]["stuck"]
    if when_full == "drop_oldest":
        assert sink["dropped"] > 0
        assert sink["lagBytes"] <= 20 * 1024
    else:
        assert sink["dropped"] == 0


def test_adapters_know_their_buffer_store_id(make_shipper: Callable[..., Shipper]) -> None:
    """Every adapter gets the buffer's random store id (S3 keys use it so two buffers never write the same key)."""
    shipper = make_shipper({"a": {"type": "memory"}, "b": {"type": "memory"}}, start=False)
    assert len(shipper.buffer.store_id) == 12
    assert {adapter.context.store_id for adapter in shipper.adapters.values()} == {shipper.buffer.store_id}
