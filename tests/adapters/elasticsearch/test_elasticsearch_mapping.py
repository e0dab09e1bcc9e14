"""The ECS mapping, for every catalog type and reason, checked against the copied ECS facts."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

import msgspec
import pytest
from es_testkit import CATALOG, FULL_FIELDS, ecs_facts, event, every_type_and_reason, make_adapter

from adapters.elasticsearch.index_template import FIELD_TYPES, index_template
from adapters.elasticsearch.mapping import ECS_VERSION, to_ecs
from shippers.config import PiiConfig
from shippers.pii import make_policy

FACTS = ecs_facts()
ECS_FIELDS: dict[str, dict[str, Any]] = FACTS["fields"]
CASES = every_type_and_reason()

# DESIGN.md's table, written out by hand so the catalog's ECS pairs are checked too, not just copied.
DESIGN_ECS: dict[str, tuple[list[str], list[str]]] = {
    **dict.fromkeys(
        [
            "login.completed",
            "login.invalid_email",
            "login.invalid_password",
            "login.invalid_session",
            "magic_link.failed",
            "magic_code.failed",
        ],
        (["authentication"], ["start"]),
    ),
    **dict.fromkeys(["login.email_sent", "login.sms_sent"], (["authentication"], ["info"])),
    **dict.fromkeys(
        ["lockout_policy.limit_reached", "recaptcha_policy.validation_failed", "ip_policy.validation_failed"],
        (["authentication"], ["info"]),
    ),
    "user.locked": (["authentication"], ["start"]),
    "signup.completed": (["iam"], ["user", "creation"]),
    **dict.fromkeys(["password_reset.completed", "password_reset.failed"], (["iam"], ["user", "change"])),
    **dict.fromkeys(
        ["password_reset.email_sent", "password_breach.email_sent", "email_verification.sent"], (["iam"], ["info"])
    ),
    **dict.fromkeys(["email_verification.completed", "email_verification.failed"], (["iam"], ["user", "change"])),
}


def leaves(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value for every leaf; stops at labels and authlog.details (free-form objects)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in ("labels", "authlog.details"):
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


def all_keys(doc: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key of every nested object (details excluded: it is the producer's own object)."""
    keys: list[str] = []
    for key, value in doc.items():
        keys.append(key)
        if isinstance(value, dict) and f"{prefix}{key}" != "authlog.details":
            keys += all_keys(value, f"{prefix}{key}.")
    return keys


def check_ecs_value(path: str, value: Any) -> None:
    """Assert that one value fits its ECS field: type, array-ness and allowed values."""
    fact = ECS_FIELDS[path]
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list):
        assert "array" in fact.get("normalize", []), f"{path} is not an array field in ECS"
        assert value, f"{path} is an empty array"
    for one in values:
        kind = fact["type"]
        if kind in ("keyword", "match_only_text"):
            assert isinstance(one, str) and one, f"{path} must be a non-empty string"
        elif kind == "date":
            assert datetime.fromisoformat(one).tzinfo is not None, f"{path} must be an RFC 3339 time with offset"
        elif kind == "ip":
            ipaddress.ip_address(one)
        elif kind == "object":
            assert isinstance(one, dict) and all(isinstance(v, str) for v in one.values()), f"{path}: keyword values"
        else:
            pytest.fail(f"{path}: ECS type {kind} has no check here; add one")
        if "allowed_values" in fact:
            assert one in fact["allowed_values"], f"{path}={one!r} is not an ECS allowed value"


@pytest.mark.parametrize(("type_", "reason"), CASES, ids=[f"{t}:{r}" for t, r in CASES])
def test_every_type_and_reason_maps_to_valid_ecs(type_: str, reason: str | None) -> None:
    """Every catalog type and reason maps to ECS fields that exist, have the ECS type and allowed values."""
    kind = CATALOG[type_]
    doc = to_ecs(event(type_, reason, id="e-1", **FULL_FIELDS), kind, dataset="authlog.events", labels={"env": "prod"})
    flat = leaves(doc)
    for path, value in flat.items():
        if path.startswith("authlog."):
            continue  # our own namespace, not ECS
        assert path in ECS_FIELDS, f"{path} is not an ECS field (or its facts are missing from the test data)"
        check_ecs_value(path, value)
    for path, fact in ECS_FIELDS.items():
        if fact.get("required"):
            assert path in flat, f"ECS requires {path}"
    category, types = doc["event"]["category"], doc["event"]["type"]
    for one in types:
        assert any(one in FACTS["category_types"][c] for c in category), f"{category}/{one} is not a pair ECS expects"
    assert (category, types) == DESIGN_ECS[type_]
    assert doc["event"]["action"] == type_
    assert doc["event"]["outcome"] == kind.outcome
    assert doc["message"] == kind.describe(reason)
    if reason is None:
        assert "reason" not in doc["event"] and "reason_code" not in doc["authlog"]
    else:
        assert doc["event"]["reason"] == kind.reasons[reason]
        assert doc["authlog"]["reason_code"] == reason


def test_design_table_covers_the_whole_catalog() -> None:
    """The hand-written DESIGN table names every built-in type, so no type escapes the pair check."""
    assert sorted(DESIGN_ECS) == sorted(CATALOG.names)
    assert len(CASES) == 20 + 7  # 20 types, plus 3 + 2 + 2 reasons


def test_full_event_lands_in_the_documented_fields() -> None:
    """Each canonical field lands where DESIGN.md's mapping table says, as nested objects."""
    e = event("magic_link.failed", "expired", id="0193a5e2-x", **FULL_FIELDS)
    item = make_adapter(hosts=["http://127.0.0.1:9"], dataset="auth.prod", labels={"env": "prod"}).map(e)
    doc = msgspec.json.decode(item.split(b"\n")[1])  # map gives the two bulk lines; the second is the source
    assert doc == {
        "@timestamp": "2026-05-28T19:34:33.123Z",
        "event": {
            "id": "0193a5e2-x",
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "action": "magic_link.failed",
            "outcome": "failure",
            "module": "authlog",
            "provider": "authlog",
            "dataset": "auth.prod",
            "reason": CATALOG["magic_link.failed"].reasons["expired"],
        },
        "message": CATALOG["magic_link.failed"].reasons["expired"],
        "user": {"id": "u-7", "email": "ana@example.com", "name": "ana@example.com"},
        "source": {"ip": "203.0.113.7"},
        "user_agent": {"original": "Mozilla/5.0 (X11; Linux x86_64)"},
        "related": {"user": ["u-7", "ana@example.com"], "ip": ["203.0.113.7"]},
        "organization": {"id": "t-42"},
        "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"},
        "labels": {"env": "prod"},
        "ecs": {"version": ECS_VERSION},
        "authlog": {
            "action": CATALOG["magic_link.failed"].action,
            "reason_code": "expired",
            "details": {"k": "v", "attempt": 2, "nested": {"ok": True}},
            "schema_version": 1,
        },
    }
    assert not [key for key in all_keys(doc) if "." in key], "keys must be nested objects, not dotted names"


def test_minimal_event_leaves_absent_fields_out() -> None:
    """A failed login with an unknown email has no user id: nothing is written as null or empty."""
    doc = to_ecs(event("login.invalid_email", id="e-2"), CATALOG["login.invalid_email"], dataset="authlog.events")
    assert set(doc) == {"@timestamp", "event", "message", "ecs", "authlog"}
    assert doc["event"]["outcome"] == "failure"
    assert None not in leaves(doc).values()


def test_ecs_version_is_the_version_of_the_copied_facts() -> None:
    """ecs.version names the ECS release the facts (and so the mapping checks) come from."""
    assert ECS_VERSION == FACTS["ecs_version"]


def test_outcome_comes_from_the_catalog_not_from_text() -> None:
    """A success type whose description reads like a failure still maps to success (and the reverse)."""
    for kind in CATALOG:
        doc = to_ecs(event(kind.name, id="e"), kind, dataset="d")
        assert doc["event"]["outcome"] == kind.outcome


def test_hashed_ip_moves_out_of_source_ip() -> None:
    """A PII-hashed IP is no address, so it goes to authlog.ip instead of the ip-typed source.ip."""
    policy = make_policy(PiiConfig(ip="hash", email="mask", hash_key="k"))
    assert policy is not None
    doc = to_ecs(
        policy(event("login.completed", ip="203.0.113.7", email="ana@example.com")),
        CATALOG["login.completed"],
        dataset="d",
    )
    assert "source" not in doc
    assert doc["authlog"]["ip"].startswith("hmac-sha256:")
    assert doc["user"]["email"] == "a***@example.com"
    masked = make_policy(PiiConfig(ip="mask"))
    assert masked is not None
    doc = to_ecs(masked(event("login.completed", ip="203.0.113.7")), CATALOG["login.completed"], dataset="d")
    assert doc["source"] == {"ip": "203.0.113.0"}


def test_type_missing_from_the_catalog_falls_back_to_the_catalog_default() -> None:
    """A buffered event whose extension type was since removed still maps (authentication/info)."""
    doc = to_ecs(event("login.completed"), None, dataset="d")
    assert doc["event"]["category"] == ["authentication"] and doc["event"]["type"] == ["info"]


@pytest.mark.parametrize(("type_", "reason"), CASES[:5])
def test_mapping_is_pure_and_deterministic(type_: str, reason: str | None) -> None:
    """Mapping the same event twice gives byte-identical items and leaves the event unchanged."""
    adapter = make_adapter(hosts=["http://127.0.0.1:9"])
    e = event(type_, reason, id="same", **FULL_FIELDS)
    before = msgspec.json.encode(e)
    first, second = adapter.encode_item(adapter.map(e)), adapter.encode_item(adapter.map(e))
    assert first == second
    assert msgspec.json.encode(e) == before


def test_template_maps_every_written_field_with_its_ecs_type() -> None:
    """The index template gives every field the mapping writes a type, and ECS fields their ECS type."""
    doc = to_ecs(
        event("user.locked", "locked", id="x", **FULL_FIELDS),
        CATALOG["user.locked"],
        dataset="d",
        labels={"env": "prod"},
    )
    written = set(leaves(doc)) | {"authlog.ip"}
    assert written <= set(FIELD_TYPES), f"no template mapping for {written - set(FIELD_TYPES)}"
    for path, es_type in FIELD_TYPES.items():
        if path in ECS_FIELDS:
            assert es_type == ECS_FIELDS[path]["type"], (
                f"{path}: template says {es_type}, ECS says {ECS_FIELDS[path]['type']}"
            )
        else:
            assert path.startswith("authlog."), f"{path} is neither ECS nor in our namespace"
    assert set(ECS_FIELDS) <= set(FIELD_TYPES), "every ECS field we copied facts for must be mapped"


@pytest.mark.parametrize("flavor", ["elasticsearch", "opensearch"])
def test_template_is_nested_and_flavored(flavor: str) -> None:
    """The template nests properties, maps source.ip as ip and details as one flattened field per flavor."""
    body = index_template("logs-authlog-default", data_stream=True, flavor=flavor)  # type: ignore[arg-type]
    props = body["template"]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["@timestamp"] == {"type": "date"}
    assert props["event"]["properties"]["outcome"] == {"type": "keyword"}
    details = props["authlog"]["properties"]["details"]["type"]
    message = props["message"]["type"]
    assert (details, message) == (
        ("flattened", "match_only_text") if flavor == "elasticsearch" else ("flat_object", "text")
    )
    assert body["data_stream"] == {} and body["index_patterns"] == ["logs-authlog-default"]
    assert "data_stream" not in index_template("authlog-events", data_stream=False, flavor=flavor)  # type: ignore[arg-type]
