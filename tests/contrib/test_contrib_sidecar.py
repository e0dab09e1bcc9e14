"""Sidecar mode with an injected transport and clock: a slow or stopped sidecar never holds a request past the budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from contrib_support import ACCEPTED, FakeClock, RecordingWait, ScriptedTransport, dropped
from prometheus_client import CollectorRegistry

from shippers.contrib.facts import RequestFacts
from shippers.contrib.helpers import AuthEvents
from shippers.contrib.integration import Integration, Plumbing
from shippers.contrib.sidecar import COOL_DOWN_SECONDS, SEND_SLOTS, SidecarDelivery
from shippers.contrib.spool import Spool
from shippers.contrib.transport import Outcome
from shippers.testing.waiting import wait_for

FACTS = RequestFacts(ip="203.0.113.7", user_agent="Firefox/130")
DOWN = Outcome("unavailable")


class Sidecar:
    """An integration in sidecar mode over a scripted transport, an injected clock and a recording wait."""

    def __init__(self, tmp_path: Path, registry: CollectorRegistry, on_slow: str = "spool", real_wait: bool = False) -> None:
        self.transport = ScriptedTransport()
        self.clock = FakeClock()
        self.wait = RecordingWait(real=real_wait)
        self.integration = Integration.from_settings(
            None, {"mode": "sidecar", "budget": "50ms", "on_slow": on_slow, "spool_path": str(tmp_path / "spool.db")},
            base_dir=tmp_path, registry=registry,
            plumbing=Plumbing(transport=lambda _: self.transport, monotonic=self.clock, wait=self.wait, start_forwarder=False))
        self.events = AuthEvents(self.integration, FACTS)

    @property
    def delivery(self) -> SidecarDelivery:
        self.integration.start()
        runtime = self.integration.runtime
        assert isinstance(runtime, SidecarDelivery)
        return runtime

    @property
    def spool(self) -> Spool:
        assert self.delivery.spool is not None
        return self.delivery.spool

    def spooled_types(self) -> list[str]:
        import json
        return [json.loads(line)["type"] for _, line in self.spool.oldest(1000)]


@pytest.fixture
def sidecar(tmp_path: Path, registry: CollectorRegistry) -> Any:
    made: list[Sidecar] = []

    def build(**kwargs: Any) -> Sidecar:
        made.append(Sidecar(tmp_path, registry, **kwargs))
        return made[-1]

    yield build
    for one in made:
        one.transport.release()
        one.integration.close(5)


def test_a_healthy_sidecar_gets_the_event(sidecar: Any) -> None:
    """The event is posted with its fields, an id and a time; nothing is spooled."""
    side = sidecar()
    assert side.events.login_completed(user_id=7, email="ana@example.com")
    [event] = side.transport.events()
    assert {k: event[k] for k in ("type", "userId", "email", "ip", "userAgent")} == {
        "type": "login.completed", "userId": "7", "email": "ana@example.com", "ip": "203.0.113.7", "userAgent": "Firefox/130"}
    assert event["id"] and event["time"].endswith("Z")
    assert side.spool.count() == 0


def test_a_slow_sidecar_is_waited_for_at_most_the_budget_then_spooled(sidecar: Any) -> None:
    """A sidecar that does not answer: the request waits no longer than the budget, and the event is spooled."""
    side = sidecar()
    side.transport.hold()
    assert side.events.login_completed(user_id=7)
    assert side.wait.timeouts and max(side.wait.timeouts) <= 0.05
    assert side.spooled_types() == ["login.completed"]


def test_a_late_answer_removes_the_spooled_copy(sidecar: Any) -> None:
    """A send that answers 202 after the budget passed takes its spooled copy back: the event is not posted twice."""
    side = sidecar()
    side.transport.hold()
    side.events.login_completed(user_id=7)
    assert side.spool.count() == 1
    side.transport.release(ACCEPTED)
    wait_for(lambda: side.spool.count() == 0, "the late 202 to remove the spooled copy")
    assert len(side.transport.events()) == 1


def test_a_stopped_sidecar_spools_in_order_and_the_forwarder_drains_it(sidecar: Any) -> None:
    """Down: the first event is tried and spooled, the next go straight to the spool; once up, all are forwarded in order."""
    side = sidecar()
    side.transport.answer = DOWN
    side.events.login_completed(user_id=1)
    side.events.login_failed(email="x@example.com")
    side.events.password_reset_completed(user_id=1)
    assert side.transport.started._value == 1  # one attempt: the others did not spend the budget on a down sidecar
    assert side.spooled_types() == ["login.completed", "login.invalid_password", "password_reset.completed"]
    side.transport.answer = ACCEPTED
    forwarder = side.delivery.forwarder
    assert forwarder.forward_once() is True
    assert forwarder.forward_once() is False  # empty now
    assert [e["type"] for e in side.transport.events()] == ["login.completed", "login.invalid_password", "password_reset.completed"]
    assert side.spool.count() == 0
    side.events.login_completed(user_id=2)  # the spool drained: straight to the sidecar again
    assert side.transport.events()[-1]["userId"] == "2" and side.spool.count() == 0


def test_a_forwarder_keeps_events_while_the_sidecar_stays_down(sidecar: Any) -> None:
    """Forwarding to a sidecar still down keeps every event and asks for a backoff (None)."""
    side = sidecar()
    side.transport.answer = DOWN
    side.events.login_completed(user_id=1)
    assert side.delivery.forwarder.forward_once() is None
    assert side.spool.count() == 1


def test_drop_mode_counts_a_stopped_sidecar(sidecar: Any, registry: CollectorRegistry) -> None:
    """on_slow = drop: a down sidecar counts sidecar_unavailable; during the cool-down no attempt is made; after it, one is."""
    side = sidecar(on_slow="drop")
    side.transport.answer = DOWN
    assert side.events.login_completed(user_id=1) is False
    assert side.events.login_completed(user_id=2) is False
    assert dropped(registry, "sidecar_unavailable") == 2
    assert side.transport.started._value == 1
    side.clock.advance(COOL_DOWN_SECONDS)
    side.transport.answer = ACCEPTED
    assert side.events.login_completed(user_id=3)
    assert [e["userId"] for e in side.transport.events()] == ["3"]
    assert not (side.integration.settings.spool_path).exists()


def test_drop_mode_counts_a_slow_send_when_it_fails(sidecar: Any, registry: CollectorRegistry) -> None:
    """on_slow = drop: past the budget the request goes on; the drop is counted when the send times out, not before."""
    side = sidecar(on_slow="drop")
    side.transport.hold()
    assert side.events.login_completed(user_id=1)
    assert max(side.wait.timeouts) <= 0.05
    assert dropped(registry, "sidecar_timeout") == 0
    side.transport.release(Outcome("timeout"))
    wait_for(lambda: dropped(registry, "sidecar_timeout") == 1, "the timed-out send to be counted")


def test_drop_mode_a_late_success_is_no_drop(sidecar: Any, registry: CollectorRegistry) -> None:
    """on_slow = drop: a send that answers 202 after the budget is delivered, and nothing is counted."""
    side = sidecar(on_slow="drop")
    side.transport.hold()
    side.events.login_completed(user_id=1)
    side.transport.release(ACCEPTED)
    wait_for(lambda: len(side.transport.events()) == 1, "the late send")
    assert sum(dropped(registry, r) for r in ("sidecar_timeout", "sidecar_unavailable", "sidecar_busy")) == 0


def test_busy_send_slots_fall_back_at_once(sidecar: Any, registry: CollectorRegistry) -> None:
    """With every send slot held by a hung send, the next event does not wait: it falls back as sidecar_busy."""
    side = sidecar(on_slow="drop")
    side.transport.hold()
    delivery = side.delivery
    for _ in range(SEND_SLOTS):
        assert delivery._slots.acquire(blocking=False)
    assert side.events.login_completed(user_id=1) is False
    assert dropped(registry, "sidecar_busy") == 1 and side.wait.timeouts == []
    for _ in range(SEND_SLOTS):
        delivery._slots.release()


def test_a_wrong_token_is_spooled_in_spool_mode_and_counted_in_drop_mode(sidecar: Any, registry: CollectorRegistry) -> None:
    """401: kept in the spool (fixable), or counted as sidecar_rejected in drop mode."""
    spooling = sidecar()
    spooling.transport.answer = Outcome("unauthorized", status=401)
    spooling.events.login_completed(user_id=1)
    assert spooling.spool.count() == 1
    dropping = sidecar(on_slow="drop")
    dropping.transport.answer = Outcome("unauthorized", status=401)
    assert dropping.events.login_completed(user_id=1) is False
    assert dropped(registry, "sidecar_rejected") == 1


def test_an_event_the_sidecar_rejects_is_counted(sidecar: Any, registry: CollectorRegistry) -> None:
    """422 (the sidecar's catalog lacks the type) counts sidecar_rejected; spooling could not help."""
    side = sidecar()
    side.transport.answer = Outcome("accepted", rejected=(0,), status=422)
    assert side.events.login_completed(user_id=1) is False
    assert dropped(registry, "sidecar_rejected") == 1 and side.spool.count() == 0


def test_a_full_spool_is_counted_and_the_login_goes_on(tmp_path: Path, registry: CollectorRegistry) -> None:
    """A stopped sidecar and a spool at its cap: each event past it is counted as spool_full; nothing raises, and the
    events spooled before are kept."""
    transport = ScriptedTransport(DOWN)
    integration = Integration.from_settings(
        None, {"mode": "sidecar", "spool_path": str(tmp_path / "spool.db"), "spool_max_bytes": "1MiB"},
        base_dir=tmp_path, registry=registry, plumbing=Plumbing(transport=lambda _: transport, start_forwarder=False))
    events = AuthEvents(integration, FACTS)
    results = [events.login_completed(user_id=i, details={"pad": "x" * 15_000}) for i in range(120)]
    kept = results.count(True)
    assert 0 < kept < 120 and dropped(registry, "spool_full") == 120 - kept
    assert integration.runtime.spool.count() == kept  # type: ignore[union-attr]
    integration.close(5)


def test_the_spool_file_is_the_apps_alone(sidecar: Any) -> None:
    """The spool holds emails and IPs: its file is readable by the app's user only."""
    side = sidecar()
    side.transport.answer = DOWN
    side.events.login_completed(user_id=1, email="ana@example.com")
    assert side.spool.path.stat().st_mode & 0o777 == 0o600


def test_a_forwarder_says_once_a_minute_that_the_sidecar_is_down(sidecar: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Rounds against a down sidecar log one warning, then none until a minute has passed on the injected clock."""
    side = sidecar()
    side.transport.answer = DOWN
    side.events.login_completed(user_id=1)
    forwarder = side.delivery.forwarder
    with caplog.at_level("WARNING", "shippers.contrib"):
        for _ in range(5):
            forwarder.forward_once()
        side.clock.advance(60)
        forwarder.forward_once()
    assert sum("does not take yet" in r.getMessage() for r in caplog.records) == 2


def test_a_tenant_callable_that_raises_costs_only_the_tenant(tmp_path: Path, registry: CollectorRegistry) -> None:
    """The app's tenant callable failing: the event is shipped without tenantId."""
    transport = ScriptedTransport()
    integration = Integration.from_settings(
        None, {"mode": "sidecar", "on_slow": "drop", "tenant": "shippers.contrib.facts.no_such_function"},
        base_dir=tmp_path, registry=registry, plumbing=Plumbing(transport=lambda _: transport))
    facts = integration.facts(object(), ip="203.0.113.7")
    assert AuthEvents(integration, facts).login_completed(user_id=1)
    [event] = transport.events()
    assert "tenantId" not in event and event["ip"] == "203.0.113.7"
    integration.close(5)


def test_details_that_are_not_json_cost_only_the_details(sidecar: Any) -> None:
    """An app passing an object JSON cannot hold in details: the event is shipped without them."""
    side = sidecar()
    assert side.events.login_completed(user_id=1, details={"when": object()})
    [event] = side.transport.events()
    assert "details" not in event and event["userId"] == "1"
