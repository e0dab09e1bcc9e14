"""Per-sink PII policies change only that sink's copy; metrics and status report deliveries, drops, blocks and concurrency."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

from shippers.config import PiiConfig
from shippers.errors import BufferFullError
from shippers.pii import SinkPii, make_policy, mask_email, mask_ip, scrub
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.events import full_event
from shippers.testing.memory import delivered_ids

EVENT = full_event("login.completed")  # email ana@example.com, ip 203.0.113.7


def test_keep_everywhere_is_the_fast_path() -> None:
    """With every field kept there is no transform at all."""
    assert make_policy(PiiConfig()) is None


def test_hash_is_a_keyed_hmac() -> None:
    """hash writes HMAC-SHA256 with the sink's key, so the value cannot be found by hashing guesses without it."""
    policy = make_policy(PiiConfig(email="hash", hash_key="k1"))
    assert policy is not None
    expected = hmac.new(b"k1", b"ana@example.com", hashlib.sha256).hexdigest()
    assert policy(EVENT).email == f"hmac-sha256:{expected}"
    other = make_policy(PiiConfig(email="hash", hash_key="k2"))
    assert other is not None and other(EVENT).email != policy(EVENT).email


def test_mask_keeps_the_network_and_the_domain() -> None:
    """mask keeps what an analyst needs (domain, /24 or /48 network) and hides the person."""
    assert mask_email("ana@example.com") == "a***@example.com"
    assert mask_ip("203.0.113.7") == "203.0.113.0"
    assert mask_ip("2001:db8:1234:5678::1") == "2001:db8:1234::"
    policy = make_policy(PiiConfig(ip="mask", user_agent="mask"))
    assert policy is not None
    masked = policy(EVENT)
    assert (masked.ip, masked.userAgent, masked.email) == ("203.0.113.0", "***", "ana@example.com")


def test_drop_removes_the_field() -> None:
    """drop leaves the field out of what the sink receives."""
    policy = make_policy(PiiConfig(email="drop", ip="drop", user_agent="drop"))
    assert policy is not None
    dropped = policy(EVENT)
    assert (dropped.email, dropped.ip, dropped.userAgent) == (None, None, None)
    assert dropped.userId == EVENT.userId


def test_policy_applies_to_one_sink_only(make_shipper: Callable[..., Shipper], tmp_path: Path) -> None:
    """A sink with hashing writes hashes while another sink of the same events keeps the originals."""
    out = tmp_path / "hashed.ndjson"
    shipper = make_shipper({
        "raw": {"type": "memory"},
        "hashed": {"type": "file", "path": str(out), "pii": {"email": "hash", "ip": "mask", "hash_key": "secret"}},
    })
    shipper.ingest_raw([b'{"id":"p1","type":"login.completed","email":"ana@example.com","ip":"203.0.113.7"}'])
    assert shipper.flush(10)
    line = json.loads(out.read_text())
    assert line["email"].startswith("hmac-sha256:") and line["ip"] == "203.0.113.0"
    from shippers.testing.memory import MemoryAdapter

    [kept] = MemoryAdapter.delivered["raw"]
    assert (kept.email, kept.ip) == ("ana@example.com", "203.0.113.7")


def test_metrics_count_deliveries_and_dead_letters(make_shipper: Callable[..., Shipper]) -> None:
    """The Prometheus text carries received, delivered, dead-lettered (by reason code), lag and up per sink."""
    chaos.script("c").reject_ids({"m1"})
    shipper = make_shipper({"c": {"type": "chaos"}})
    shipper.ingest_raw([b'{"id":"m%d","type":"user.locked","reason":"locked"}' % i for i in range(3)])
    assert shipper.flush(10)
    shipper.status()  # refreshes the gauges read from the store
    text = shipper.metrics.render().decode()
    assert 'authlog_events_received_total{outcome="failure",type="user.locked"} 3.0' in text
    assert 'authlog_sink_delivered_total{sink="c"} 2.0' in text
    assert 'authlog_sink_dead_lettered_total{reason="rejected_by_destination",sink="c"} 1.0' in text
    assert 'authlog_sink_lag_events{sink="c"} 0.0' in text
    assert 'authlog_sink_up{sink="c"} 1.0' in text
    assert "m1" not in text  # no event values in labels


def test_received_counts_add_up_across_commits_of_the_same_kinds() -> None:
    """count_received keeps one series per (type, outcome) and adds every commit's counts to it (cached children
    never lose or double a count), so the exported totals are the sums of what was committed."""
    from shippers.metrics import Metrics

    metrics = Metrics()
    metrics.count_received({("login.completed", "success"): 2, ("user.locked", "failure"): 1})
    metrics.count_received({("login.completed", "success"): 5})
    text = metrics.render().decode()
    assert 'authlog_events_received_total{outcome="success",type="login.completed"} 7.0' in text
    assert 'authlog_events_received_total{outcome="failure",type="user.locked"} 1.0' in text
    assert text.count("authlog_events_received_total{") == 2


def test_dropped_events_reach_the_metric_and_status(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """Events lost by drop_oldest are counted in status and in authlog_sink_dropped_total."""
    chaos.script("stuck").permanent("down")
    shipper = make_shipper({"stuck": {"type": "chaos", "when_full": "drop_oldest", "max_backlog": "4KiB"}}, sleep=fake_sleep)
    for round_ in range(10):
        shipper.ingest_raw([b'{"id":"d%d-%d","type":"login.completed"}' % (round_, i) for i in range(10)])
    dropped = shipper.status()["sinks"]["stuck"]["dropped"]
    assert dropped > 0
    assert f'authlog_sink_dropped_total{{sink="stuck"}} {float(dropped)}' in shipper.metrics.render().decode()


def test_a_full_blocking_sink_is_reported_blocked(make_shipper: Callable[..., Shipper], fake_sleep) -> None:
    """When producers are refused because one sink is full, status names that sink as blocked."""
    chaos.script("stuck").permanent("down")
    shipper = make_shipper({"stuck": {"type": "chaos", "max_backlog": "2KiB"}}, sleep=fake_sleep)
    try:
        for round_ in range(20):
            shipper.ingest_raw([b'{"id":"b%d-%d","type":"login.completed"}' % (round_, i) for i in range(5)])
    except BufferFullError as exc:
        assert exc.sink == "stuck"
    else:
        raise AssertionError("the buffer never filled")
    assert shipper.status()["sinks"]["stuck"]["state"] == "blocked"


def test_concurrency_puts_several_requests_in_flight(make_shipper: Callable[..., Shipper], monkeypatch) -> None:
    """With concurrency = 4 two sends meet at a barrier (they really overlap), and every event still arrives exactly once."""
    import threading

    from shippers.testing.memory import MemoryAdapter

    barrier = threading.Barrier(2, timeout=10)  # the timeout only fires when the sends do not overlap
    lock = threading.Lock()
    arrivals: list[int] = []
    original = MemoryAdapter.send

    def send(self, request):  # type: ignore[no-untyped-def]
        with lock:
            waits = len(arrivals) < 2  # exactly the first two sends meet at the barrier
            arrivals.append(1)
        if waits:
            barrier.wait()
        return original(self, request)

    monkeypatch.setattr(MemoryAdapter, "send", send)
    shipper = make_shipper({"m": {"type": "memory", "concurrency": 4, "batch": {"max_events": 25}}}, start=False)
    shipper.ingest_raw([b'{"id":"c%d","type":"login.completed"}' % i for i in range(1000)])
    shipper.start()
    assert shipper.flush(20)
    assert len(arrivals) >= 2 and not barrier.broken
    ids = delivered_ids("m")
    assert len(ids) == 1000 and len(set(ids)) == 1000


def test_a_sinks_view_is_tagged_and_never_applied_twice() -> None:
    """SinkPii.view applies the policy to a raw event once, tags it, and leaves an event carrying that tag unchanged (no hash of a hash)."""
    pii = SinkPii(PiiConfig(email="hash", ip="mask", hash_key="k1"))
    shown, tag = pii.view(EVENT, None)
    assert tag == pii.tag and tag.startswith("email=hash:") and ";ip=mask;userAgent=keep" in tag
    assert "k1" not in tag  # the key id is an HMAC of a constant, not the key
    again, same = pii.view(shown, tag)
    assert again is shown and same == tag
    assert SinkPii(PiiConfig(email="hash", hash_key="k2")).tag != SinkPii(PiiConfig(email="hash", hash_key="k1")).tag


def test_a_changed_policy_wins_without_transforming_twice() -> None:
    """Replaying under another policy: raw fields get the new action, masked-under-hash and anything-under-drop are dropped, hashes stay."""
    old = SinkPii(PiiConfig(email="hash", ip="mask", hash_key="k1"))
    stored, tag = old.view(EVENT, None)
    now = SinkPii(PiiConfig(email="keep", ip="hash", user_agent="mask", hash_key="k2"))
    shown, new_tag = now.view(stored, tag)
    assert shown.email == stored.email  # a hash cannot be undone for keep, and is never re-hashed
    assert shown.ip is None  # a hash of a mask would join with nothing; the mask shows more than a hash may
    assert shown.userAgent == "***"  # stored raw (keep), so the new mask applies
    assert new_tag == f"email={old.actions['email']};ip=drop;userAgent=mask"
    assert now.changes_since(tag) == [
        f"email: {old.actions['email']}, now keep (sent: {old.actions['email']})",
        f"ip: mask, now {now.actions['ip']} (sent: drop)",
        "userAgent: keep, now mask (sent: mask)",
    ]
    dropped, _ = SinkPii(PiiConfig(email="drop")).view(stored, tag)
    assert dropped.email is None


def test_scrub_replaces_hidden_values_in_a_text() -> None:
    """scrub swaps each value the sink's view changed for what the view shows (or [withheld] when dropped)."""
    shown = SinkPii(PiiConfig(email="drop", ip="mask")).view(EVENT, None)[0]
    text = scrub("refused ana@example.com from 203.0.113.7 (Mozilla)", EVENT, shown)
    assert text == "refused [withheld] from 203.0.113.0 (Mozilla)"
