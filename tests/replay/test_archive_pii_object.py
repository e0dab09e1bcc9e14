"""The archive line's optional ``pii`` object: what a sink's PII policy transformed, every other key unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from shippers.config import PiiConfig
from shippers.pii import SinkPii
from shippers.shipper import Shipper
from shippers.testing.events import full_event

RAW = b'{"id":"p1","type":"login.completed","email":"ana@example.com","ip":"203.0.113.7","userAgent":"curl/8"}'


def test_file_line_names_what_the_policy_transformed(make_shipper: Callable[..., Shipper], tmp_path: Path) -> None:
    """A file sink with hash/mask writes "pii": {"email": "hash", "ip": "mask"} and the raw sink's keys otherwise."""
    hashed, raw = tmp_path / "hashed.ndjson", tmp_path / "raw.ndjson"
    shipper = make_shipper({
        "raw": {"type": "file", "path": str(raw)},
        "hashed": {"type": "file", "path": str(hashed), "pii": {"email": "hash", "ip": "mask", "hash_key": "secret"}},
    })
    shipper.ingest_raw([RAW])
    assert shipper.flush(10)
    plain, treated = json.loads(raw.read_text()), json.loads(hashed.read_text())
    assert "pii" not in plain
    assert treated["pii"] == {"email": "hash", "ip": "mask"}
    assert list(treated) == [*plain, "pii"]  # the same keys in the same order, the object last
    assert {k: v for k, v in treated.items() if k not in ("email", "ip", "pii")} == {
        k: v for k, v in plain.items() if k not in ("email", "ip")
    }


def test_only_fields_present_are_named() -> None:
    """A dropped field the event never had is not named: the object says what was transformed, not the policy."""
    pii = SinkPii(PiiConfig(email="drop", ip="mask"))
    shown, _ = pii.view(full_event("login.completed", email=None), None)
    assert shown.pii == {"ip": "mask"}


def test_a_replayed_view_keeps_and_extends_the_object() -> None:
    """A view of an event already treated keeps its object and adds what this policy changes now."""
    first = SinkPii(PiiConfig(email="hash", hash_key="k"))
    once, tag = first.view(full_event("login.completed"), None)
    later = SinkPii(PiiConfig(email="hash", ip="mask", hash_key="k"))
    twice, _ = later.view(once, tag)
    assert twice.email == once.email  # never hashed again
    assert twice.pii == {"email": "hash", "ip": "mask"}
