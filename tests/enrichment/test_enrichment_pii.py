"""Derived fields follow their source's PII policy, in every view of an event (delivery, DLQ, replay)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from shippers.config import PiiConfig
from shippers.enrichment.model import AutonomousSystem, Device, Enrichment, Geo, UserAgent
from shippers.pii import SinkPii
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.events import full_event

ENRICHMENT = Enrichment(
    geo=Geo(countryIsoCode="DE", cityName="Berlin"),
    as_=AutonomousSystem(number=64500, organization="Example Telecom AG"),
    userAgent=UserAgent(name="Chrome", device=Device(name="Mac")),
)
EVENT = msgspec.structs.replace(full_event("login.invalid_password"), enrichment=ENRICHMENT)


# (pii keys, which enrichment parts the sink sees)
RULES = [
    ({}, {"geo", "as", "userAgent"}),
    ({"ip": "mask", "hash_key": "k"}, {"as", "userAgent"}),
    ({"ip": "hash", "hash_key": "k"}, {"userAgent"}),
    ({"ip": "drop"}, {"userAgent"}),
    ({"ip": "hash", "geo": "keep", "hash_key": "k"}, {"geo", "userAgent"}),
    ({"ip": "drop", "geo": "keep"}, {"geo", "userAgent"}),
    ({"geo": "drop"}, {"as", "userAgent"}),
    ({"user_agent": "mask"}, {"geo", "as"}),
    ({"user_agent": "hash", "hash_key": "k"}, {"geo", "as"}),
    ({"user_agent": "drop", "ip": "drop"}, set()),
    ({"email": "hash", "hash_key": "k"}, {"geo", "as", "userAgent"}),
]


def _parts(event: Any) -> set[str]:
    return set(msgspec.to_builtins(event.enrichment) or {})


@pytest.mark.parametrize(("pii", "seen"), RULES, ids=[str(r[0]) for r in RULES])
def test_each_policy_lets_through_exactly_the_parts_it_allows(pii: dict[str, str], seen: set[str]) -> None:
    """AS follows ip (kept or masked), geo only where ip is kept unless pii.geo says, the parsed agent where userAgent is kept."""
    shown, _ = SinkPii(PiiConfig(**pii)).view(EVENT, None)
    assert _parts(shown) == seen
    if not seen:
        assert shown.enrichment is None  # never an empty object


@pytest.mark.parametrize(("pii", "seen"), RULES, ids=[str(r[0]) for r in RULES])
def test_a_replayed_view_applies_the_current_rule_once_more(pii: dict[str, str], seen: set[str]) -> None:
    """A replayed letter (already tagged) shows no more of the enrichment than the current policy allows, even under the same tag."""
    pii_policy = SinkPii(PiiConfig(**pii))
    shown, tag = pii_policy.view(EVENT, "email=keep;ip=keep;userAgent=keep")
    assert _parts(shown) == seen
    again, _ = pii_policy.view(msgspec.structs.replace(EVENT), pii_policy.tag)
    assert _parts(again) == seen


def test_the_fallback_view_withholds_the_enrichment(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the policy itself fails, the event is shown without the fields it hides and without any enrichment."""
    pii_policy = SinkPii(PiiConfig(ip="hash", hash_key="k"))
    monkeypatch.setattr(pii_policy, "view", lambda *_: (_ for _ in ()).throw(RuntimeError("boom")))
    shown, _ = pii_policy.safe_view(EVENT, None)
    assert shown.ip is None and shown.enrichment is None


def test_dead_letters_show_only_the_enrichment_their_sink_may_see(tmp_path: Path, enrich_dbs: dict[str, str]) -> None:
    """A refused event of a sink that hashes ip is dead-lettered without geo and AS; a pii.geo = "keep" sink's letter keeps geo."""
    chaos.script("hashed").reject_ids({"p-1"})
    chaos.script("located").reject_ids({"p-1"})
    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "b")}, "enrich": {**enrich_dbs, "user_agent": True}, "sinks": {
        "hashed": {"type": "chaos", "pii": {"ip": "hash", "hash_key": "k"}},
        "located": {"type": "chaos", "pii": {"ip": "hash", "geo": "keep", "hash_key": "k"}},
    }}).start()
    try:
        shipper.ingest_raw([b'{"id":"p-1","type":"login.invalid_password","ip":"203.0.113.7","userAgent":"okhttp/4.12.0"}'])
        assert shipper.flush(10)
        [hashed] = shipper.dead_letters("hashed")
        [located] = shipper.dead_letters("located")
    finally:
        shipper.close(5)
    assert _parts(hashed.event) == {"userAgent"} and hashed.event.ip.startswith("hmac-sha256:")
    assert _parts(located.event) == {"geo", "userAgent"} and located.event.enrichment.geo.cityName == "Berlin"
