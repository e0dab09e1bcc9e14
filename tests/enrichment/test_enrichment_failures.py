"""Enrichment look-ups that raise are counted by look-up and shown: status's enrichmentFailures and /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shippers.catalog import builtin_catalog
from shippers.enrichment import enricher as enricher_module
from shippers.enrichment.enricher import ASN, GEO, LOOKUPS, USER_AGENT, Enricher
from shippers.event import EventValidator
from shippers.shipper import Shipper

CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
NOW = 1_764_000_000.0
SECRET_IP = "203.0.113.7"


def _raises(value: str) -> Any:
    raise RuntimeError(f"damaged page near {value}")


def _answers(_value: str) -> Any:
    return None


@pytest.mark.parametrize("failing", LOOKUPS)
def test_each_lookup_that_raises_is_counted_under_its_own_name_every_time(failing: str) -> None:
    """With one of geo / asn / user agent raising, each event is kept unenriched and counted under that look-up, the next
    event's look-up included (a failure is never cached)."""
    seen: list[str] = []
    parts = {name: (_raises if name == failing else _answers) for name in LOOKUPS}
    enricher = Enricher(parts[GEO], parts[ASN], parts[USER_AGENT], on_failure=seen.append)
    validator = EventValidator(builtin_catalog(), lambda: NOW, enricher)
    for _ in range(2):
        event = validator.from_fields({"type": "login.completed", "ip": SECRET_IP, "userAgent": CHROME})
        assert event.enrichment is None
    assert seen == [failing, failing]
    assert enricher.failures == 2 and enricher.lookups == LOOKUPS


def test_an_enricher_names_only_the_lookups_it_makes() -> None:
    """An enricher with only a user-agent parser tracks user_agent alone (the series and status keys it exports)."""
    assert Enricher(user_agent=_answers).lookups == (USER_AGENT,)
    assert Enricher(geo=_answers).lookups == (GEO,)


class RaisingReader:
    """A MaxMind reader whose every look-up raises, with the address in its message (as a damaged page might)."""

    def get(self, ip: str) -> Any:
        raise RuntimeError(f"bad pointer while reading {ip}")


@pytest.fixture
def asn_reader_raises(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The [enrich] asn_db reader raises on every look-up; geoip_db's answers as its file says."""
    real = enricher_module.open_database

    def open_database(key: str, path: str, *, geo: bool) -> Any:
        return real(key, path, geo=geo) if geo else RaisingReader()

    monkeypatch.setattr(enricher_module, "open_database", open_database)
    yield


def _metric_lines(shipper: Shipper) -> dict[str, str]:
    text = shipper.metrics.render().decode()
    return dict(line.rsplit(" ", 1) for line in text.splitlines()  # type: ignore[misc]
                if line.startswith("authlog_enrichment_failures_total"))


def test_a_failing_lookup_shows_in_status_and_metrics_with_its_label(
    tmp_path: Path, enrich_dbs: dict[str, str], asn_reader_raises: None,
) -> None:
    """An AS reader that raises: /metrics exports every look-up from 0, then status JSON and /metrics count asn only,
    and neither shows the address."""
    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "b")}, "enrich": {**enrich_dbs, "user_agent": True},
                                   "sinks": {"m": {"type": "memory"}}})
    try:
        assert _metric_lines(shipper) == {f'authlog_enrichment_failures_total{{lookup="{name}"}}': "0.0" for name in LOOKUPS}
        assert shipper.status()["enrichmentFailures"] == {"geo": 0, "asn": 0, "user_agent": 0}
        result = shipper.ingest_raw([b'{"type": "login.completed", "ip": "%s", "userAgent": "%s"}' % (SECRET_IP.encode(), CHROME.encode())] * 3)
        shipper.emit("login.completed", ip="2001:db8::7")
        document = shipper.status()
        metrics = shipper.metrics.render().decode()
    finally:
        shipper.close(1.0)
    assert result.accepted == 3
    assert document["enrichmentFailures"] == {"geo": 0, "asn": 4, "user_agent": 0}
    assert _metric_lines(shipper) == {'authlog_enrichment_failures_total{lookup="geo"}': "0.0",
                                      'authlog_enrichment_failures_total{lookup="asn"}': "4.0",
                                      'authlog_enrichment_failures_total{lookup="user_agent"}': "0.0"}
    assert SECRET_IP not in metrics and SECRET_IP not in msgspec.json.encode(document).decode()


def test_without_enrich_status_and_metrics_show_no_enrichment(tmp_path: Path) -> None:
    """No [enrich]: status has no enrichmentFailures and /metrics no enrichment series (nothing to fail)."""
    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "b")}, "sinks": {"m": {"type": "memory"}}})
    try:
        assert "enrichmentFailures" not in shipper.status()
        assert _metric_lines(shipper) == {}
    finally:
        shipper.close(1.0)
