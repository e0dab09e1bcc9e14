"""No destination document shows what its sink's PII policy removes: raw fields, nor the facts derived from them.

The policy filters the event (tests/enrichment/test_enrichment_pii.py); this checks the end of the
road: what every adapter's ``map`` writes (Elasticsearch, Datadog, Cloud Logging, S3 NDJSON, OCSF
and OCSF Parquet rows) from the view the core hands it, for every combination of ``pii.email``,
``pii.ip``, ``pii.user_agent`` and ``pii.geo``. A value is searched for as text anywhere in the
document, so a new mapping that copies a derived field somewhere else is caught too.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from shippers.catalog import builtin_catalog
from shippers.config import EnrichConfig, FilePath, config_from_dict
from shippers.enrichment.enricher import build_enricher
from shippers.event import Event, EventValidator
from shippers.pii import SinkPii
from shippers.plugins import build_adapters

NOW = 1_764_000_000.0
EMAIL = "victim.person@example.com"
IP = "203.0.113.7"
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
# What each source shows of itself, and of what is derived from it (shippers.testing.geo_databases: Berlin, AS 64500).
SHOWS = {
    "email": [EMAIL, "victim.person"],
    "ip": [IP],
    "user_agent": [USER_AGENT, "Mac OS X", "10.15.7", "120.0.0"],
    "geo": ["Berlin", "52.52", "13.405", "10115", "Europe/Berlin"],
    "as": ["64500", "Example Telecom AG"],
}
SINKS = {
    "es": {"type": "elasticsearch", "hosts": ["http://127.0.0.1:9"]},
    "dd": {"type": "datadog", "api_key": "dd-test-key-0123456789abcdef", "hostname": "web-1"},
    "gcl": {"type": "cloud_logging", "project": "p"},
    "ndjson": {"type": "s3", "bucket": "archive", "region": "eu-central-1"},
    "ocsf": {"type": "s3", "bucket": "archive", "region": "eu-central-1", "format": "ocsf", "service_name": "shop"},
    "lake": {"type": "s3", "bucket": "archive", "region": "eu-central-1", "format": "ocsf-parquet", "service_name": "shop",
             "security_lake": {"account_id": "123456789012", "region": "eu-central-1", "sources": {"3002": "authlog_auth"}}},
}
ACTIONS = ("keep", "hash", "mask", "drop")
POLICIES = [
    {"email": email, "ip": ip, "user_agent": agent, **({"geo": geo} if geo else {})}
    for email, ip, agent, geo in itertools.product(("keep", "hash"), ACTIONS, ("keep", "mask"), (None, "keep", "drop"))
] + [{"email": "drop", "ip": "drop", "user_agent": "drop"}, {"email": "mask", "ip": "hash", "user_agent": "hash"}]


def allowed(policy: dict[str, str]) -> set[str]:
    """What the policy lets a destination see (README, "Derived fields follow their source's PII policy")."""
    seen = {name for name in ("email", "ip", "user_agent") if policy[name] == "keep"}
    if policy["ip"] in ("keep", "mask"):
        seen.add("as")
    if policy.get("geo", "keep" if policy["ip"] == "keep" else "drop") == "keep":
        seen.add("geo")
    return seen


@pytest.fixture(scope="module")
def enriched(enrich_dbs: dict[str, str]) -> Event:
    """A failed login from a Berlin address with a Chrome on macOS, enriched with geo, AS and the parsed agent."""
    enricher = build_enricher(EnrichConfig(**{k: FilePath(v) for k, v in enrich_dbs.items()}, user_agent=True))
    validator = EventValidator(builtin_catalog(), lambda: NOW, enricher)
    event = validator.from_fields({"type": "login.invalid_password", "time": "2025-11-24T15:00:00.000Z", "userId": "u-1",
                                   "email": EMAIL, "ip": IP, "userAgent": USER_AGENT})
    assert event.enrichment is not None and event.enrichment.geo and event.enrichment.as_ and event.enrichment.userAgent
    return event


def documents(event: Event, policy: dict[str, str]) -> dict[str, str]:
    """{sink: the text of what its adapter maps the policy's view of ``event`` to}."""
    pii = {**policy, "hash_key": "k" * 32}
    config = config_from_dict({"sinks": {name: {**sink, "pii": pii} for name, sink in SINKS.items()}})
    adapters = build_adapters(config.sinks.values(), builtin_catalog(), lambda: NOW)
    out = {}
    for sink in config.sinks.values():
        shown, _ = SinkPii(sink.common.pii).view(event, None)
        adapter = adapters[sink.name]
        encoded: Any = adapter.encode_item(adapter.map(shown))
        lines = bytes(encoded).decode("utf-8").splitlines()  # Elasticsearch's item is its action line and document
        out[sink.name] = "\n".join(json.dumps(json.loads(line), ensure_ascii=False) for line in lines)  # escapes undone
    return out


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_no_document_shows_what_the_policy_removes(enriched: Event, policy: dict[str, str]) -> None:
    """Every destination shows each source (and what was derived from it) exactly when the policy allows it."""
    seen = allowed(policy)
    for sink, text in documents(enriched, policy).items():
        for source, values in SHOWS.items():
            present = [v for v in values if v in text]
            if source in seen:
                assert present, (sink, source, "allowed but missing: the check would pass vacuously")
            else:
                assert present == [], (sink, source, "shown although the policy removes it")
