"""Replay honours an archive line's pii object (valid as treated, never treated twice) and keeps its enrichment."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from replay_kit import BASE, ArchiveWorld, iso, run_cli

from shippers.catalog import builtin_catalog
from shippers.enrichment.model import AutonomousSystem, Enrichment
from shippers.event import EventValidator
from shippers.replay.lines import LineProblem, LineReader, pii_tag

NOW = (BASE + timedelta(days=20)).timestamp()
HASHED = "hmac-sha256:" + "ab" * 32
LINE = {"id": "x1", "type": "login.completed", "time": "2026-11-10T05:00:00Z", "email": "ana@example.com", "ip": "203.0.113.7",
        "action": "User logged in", "outcome": "success", "description": "d", "schemaVersion": 1}


def person(n: int) -> dict[str, Any]:
    return {"id": f"p-{n}", "type": "login.completed", "time": iso(BASE + timedelta(hours=1, minutes=n)),
            "email": f"user{n}@example.com", "ip": f"203.0.113.{n + 1}", "tenantId": "t-1"}


def reader(enricher: Any = None) -> LineReader:
    return LineReader(EventValidator(builtin_catalog()), enricher, lambda: NOW)


def test_hashed_and_masked_fields_are_valid_as_such_and_kept() -> None:
    """A line naming email=hash and ip=mask validates with its hash and mask as they are, and says so in its tag."""
    event = reader().read(json.dumps(dict(LINE, email=HASHED, ip="203.0.113.0", pii={"email": "hash", "ip": "mask"})).encode())
    assert not isinstance(event, LineProblem)
    assert (event.email, event.ip, event.pii) == (HASHED, "203.0.113.0", {"email": "hash", "ip": "mask"})
    assert pii_tag(event) == "email=hash;ip=mask;userAgent=keep"


def test_a_line_whose_pii_object_does_not_match_its_values_is_bad() -> None:
    """A raw email under email=hash, or a hash with no pii object (no email shape), is a bad line, not a guess."""
    claims_hash = reader().read(json.dumps(dict(LINE, pii={"email": "hash"})).encode())
    assert isinstance(claims_hash, LineProblem) and "not an hmac-sha256 hash" in claims_hash.message
    unnamed_hash = reader().read(json.dumps(dict(LINE, email=HASHED)).encode())
    assert isinstance(unnamed_hash, LineProblem) and "email" in unnamed_hash.message


def test_archived_enrichment_is_kept_and_missing_enrichment_comes_from_raw_fields_only() -> None:
    """The archived enrichment wins over [enrich]; a line without one is enriched from the ip only when the ip is raw."""
    asked: list[tuple[str | None, str | None]] = []

    def enricher(ip: str | None, agent: str | None) -> Enrichment | None:
        asked.append((ip, agent))
        return Enrichment(as_=AutonomousSystem(number=64500))

    archived = {"as": {"number": 1, "organization": "then"}}
    kept = reader(enricher).read(json.dumps(dict(LINE, enrichment=archived)).encode())
    assert not isinstance(kept, LineProblem) and kept.enrichment is not None and kept.enrichment.as_.number == 1
    assert asked == []
    fresh = reader(enricher).read(json.dumps(LINE).encode())
    assert not isinstance(fresh, LineProblem) and fresh.enrichment.as_.number == 64500
    masked = reader(enricher).read(json.dumps(dict(LINE, ip="203.0.113.0", pii={"ip": "mask"})).encode())
    assert not isinstance(masked, LineProblem)
    assert asked == [("203.0.113.7", None), (None, None)]


def test_an_archive_written_through_a_policy_is_sent_as_archived(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """Hashed emails reach a keep (or hash under another key) sink unchanged, never hashed twice; the summary warns."""
    archive([person(n) for n in range(5)], pii={"email": "hash", "ip": "mask", "hash_key": "archive-key"})
    archived = {line["id"]: line for lines in world.s3.read_lines(world.bucket).values() for line in lines}
    assert all(line["pii"] == {"email": "hash", "ip": "mask"} for line in archived.values())
    config = world.config({"search": world.es_sink(pii={"email": "hash", "hash_key": "another-key"})})
    result = run_cli("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
                     "--since", iso(BASE), "--until", iso(BASE + timedelta(days=1)))
    assert result.exit_code == 0, result.output
    docs = world.delivered()
    assert {i: d["user"]["email"] for i, d in docs.items()} == {i: line["email"] for i, line in archived.items()}
    assert {d["source"]["ip"] for d in docs.values()} == {"203.0.113.0"}
    keep = world.config({"search": world.es_sink(index=world.index + "-keep")}, store="keep-store")
    result = run_cli("replay", "-c", str(keep), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", "search",
                     "--since", iso(BASE), "--until", iso(BASE + timedelta(days=1)))
    output = " ".join(result.output.split())
    assert "warning: 5 event(s) email: archived hash, the sink's policy says keep" in output
    assert "warning: 5 event(s) ip: archived mask, the sink's policy says keep" in output


def test_an_address_said_to_be_masked_must_be_its_own_mask() -> None:
    """A raw IPv4 or IPv6 address under ip=mask is a bad line (a mask sink would send it as it is); a real /24 or /48 mask passes."""
    for raw in ("203.0.113.7", "2001:db8:1:2::5"):
        lying = reader().read(json.dumps(dict(LINE, ip=raw, pii={"ip": "mask"})).encode())
        assert isinstance(lying, LineProblem) and "does not look masked" in lying.message, raw
    for masked in ("203.0.113.0", "2001:db8:1::"):
        event = reader().read(json.dumps(dict(LINE, ip=masked, pii={"ip": "mask"})).encode())
        assert not isinstance(event, LineProblem) and event.ip == masked
