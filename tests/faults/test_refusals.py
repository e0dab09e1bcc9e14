"""Fault injection on a full store or sink: every refused event is counted, none is lost in silence.

``authlog_events_refused_total{reason}`` (and ``refused`` in status) counts the valid events the store
refused: ``sink_full`` (a ``when_full = "block"`` sink at its cap), ``store_full`` (``[buffer] max_bytes``
or a full disk), ``store_unavailable``; ``emit()`` counts an event once, when it gives up. The sidecar
also counts each 503 it answers ``POST /v1/events`` with, by reason. The logging handler never raises
into the app's log call, but each event it could not store is counted and a rate-limited warning says so.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from shippers.errors import BufferFullError, BufferUnavailableError
from shippers.logging_handler import AuthEventHandler
from shippers.shipper import Shipper
from shippers.sidecar.app import STATE
from shippers.testing import chaos
from shippers.testing.sidecar_server import SidecarServer

FULL_SINK = {"siem": {"type": "chaos", "max_backlog": "8KiB"}}  # when_full = "block" (the default)
# Why: short, so 200 refused log calls take a fraction of a second; the wait itself is not what is tested.
EMIT_TIMEOUT = {"emit_timeout": "5ms"}
LOG_CALLS = 200


def refused(shipper: Shipper, reason: str, metric: str = "authlog_events_refused_total") -> float:
    return shipper.metrics.registry.get_sample_value(metric, {"reason": reason}) or 0.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def full_shipper(make_shipper: Callable[..., Shipper]) -> Shipper:
    chaos.script("siem").permanent("503 down", sticky=True)
    return make_shipper(FULL_SINK, buffer=EMIT_TIMEOUT)


def test_the_logging_handler_counts_and_warns_about_each_event_it_could_not_store(
    make_shipper: Callable[..., Shipper], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Log calls into a full sink return normally, print no traceback, and every lost event is counted; one warning per minute."""
    shipper = full_shipper(make_shipper)
    clock = FakeMonotonic()
    log = logging.getLogger("myapp.refusals")
    handler = AuthEventHandler(shipper, monotonic=clock)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    caplog.set_level(logging.WARNING, logger="shippers.logging_handler")
    try:
        for i in range(LOG_CALLS):
            log.info("login", extra={"auth_event": {"type": "login.completed", "userId": f"u{i}"}})
        lost = LOG_CALLS - shipper.buffer.stats()["lastSeq"]
        assert lost > 0
        assert refused(shipper, "sink_full") == lost
        assert shipper.status()["refused"]["events"]["sink_full"] == lost
        assert "Traceback" not in capsys.readouterr().err
        warnings = [r for r in caplog.records if r.name == "shippers.logging_handler"]
        assert len(warnings) == 1 and "siem" in warnings[0].getMessage()
        clock.now += 61  # a minute later, the next loss is reported with the count of those not reported
        log.info("login", extra={"auth_event": {"type": "login.completed", "userId": "late"}})
        warnings = [r for r in caplog.records if r.name == "shippers.logging_handler"]
        assert len(warnings) == 2 and f"{lost} more" in warnings[1].getMessage()
    finally:
        log.removeHandler(handler)


def test_a_malformed_auth_event_in_a_log_record_is_counted_as_rejected(make_shipper: Callable[..., Shipper]) -> None:
    """A non-dict auth_event or one without a type is counted under rejected (not_an_object, missing_field)."""
    shipper = make_shipper({"archive": {"type": "memory"}})
    handler = AuthEventHandler(shipper)
    handler.handleError = lambda record: None  # type: ignore[method-assign]  # logging's channel; not what is tested here
    for payload in (["login.completed"], {"userId": "u"}):
        handler.handle(logging.makeLogRecord({"name": "myapp", "msg": "x", "auth_event": payload}))
    assert refused(shipper, "not_an_object", "authlog_events_rejected_total") == 1
    assert refused(shipper, "missing_field", "authlog_events_rejected_total") == 1


def test_emit_counts_a_refused_event_once_when_it_gives_up(make_shipper: Callable[..., Shipper]) -> None:
    """emit() retrying until emit_timeout counts the event once, under the reason the store gave."""
    shipper = full_shipper(make_shipper)
    with pytest.raises(BufferFullError):
        for i in range(LOG_CALLS):
            shipper.emit("login.completed", userId=f"u{i}")
    assert refused(shipper, "sink_full") == 1
    assert refused(shipper, "store_full") == 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BufferFullError("the disk of /x is full", kind="disk_full"), "store_full"),
        (BufferFullError("the buffer holds 8192 bytes of 8192 ([buffer] max_bytes)"), "store_full"),
        (BufferUnavailableError("/x is read-only", kind="read_only"), "store_unavailable"),
    ],
    ids=["disk_full", "max_bytes", "read_only"],
)
def test_a_refusal_by_the_store_itself_is_counted_under_its_reason(
    make_shipper: Callable[..., Shipper], monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str
) -> None:
    """A full disk or [buffer] max_bytes is store_full, a store that takes no writes store_unavailable (emit and ingest alike)."""
    shipper = make_shipper({"archive": {"type": "memory"}}, buffer=EMIT_TIMEOUT)

    def refuse(*args: object, **kwargs: object) -> int:
        raise error

    monkeypatch.setattr(shipper.buffer, "append", refuse)
    with pytest.raises(type(error)):
        shipper.emit("login.completed", userId="u")
    with pytest.raises(type(error)):
        shipper.ingest_raw([b'{"type": "login.completed"}'] * 3)
    assert refused(shipper, reason) == 4
    assert sum(shipper.status()["refused"]["events"].values()) == 4


def post(url: str, events: list[dict[str, Any]]) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", "/v1/events", json.dumps(events), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_the_sidecars_503s_are_counted_by_reason(make_shipper: Callable[..., Shipper]) -> None:
    """A request refused for a full sink counts its events and the request; one refused while shutting down counts the request."""
    shipper = full_shipper(make_shipper)
    batch = [{"type": "login.completed", "userId": f"u{i}", "details": {"pad": "x" * 200}} for i in range(50)]
    with SidecarServer(shipper) as sidecar:
        statuses = [post(sidecar.url, batch) for _ in range(4)]
        assert 503 in statuses
        full = statuses.count(503)
        assert refused(shipper, "sink_full") == 50 * full
        assert refused(shipper, "sink_full", "authlog_ingest_requests_refused_total") == full
        assert sidecar.app is not None
        sidecar.app[STATE].closing = True
        assert post(sidecar.url, batch[:1]) == 503
        assert refused(shipper, "shutting_down", "authlog_ingest_requests_refused_total") == 1
        assert shipper.status()["refused"]["requests"]["shutting_down"] == 1
