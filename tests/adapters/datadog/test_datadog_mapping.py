"""The Datadog mapping, table-driven over every catalog type and reason."""

from __future__ import annotations

from typing import Any

import pytest
from datadog_testkit import FIXED, every_type_and_reason, full_event, log_of, make_adapter

from adapters.datadog.mapping import MappingSettings, tag, to_datadog_log
from shippers.catalog import EventType, builtin_catalog
from shippers.event import encode_event

CATALOG = builtin_catalog()
CASES = every_type_and_reason()
EXPECTED_STATUS = {"success": "info", "failure": "warn"}
# What DESIGN.md's mapping table asks evt.category to be, per type (ECS category of the catalog).
# Why: DESIGN.md asks for the event id as evt.id; Datadog's log standard table has evt.name, evt.outcome
# and evt.category but no id (its Events product uses evt.id for the event identifier). It is the one
# attribute outside authlog.* that is ours, and this list keeps a second one from slipping in unnoticed.
NON_STANDARD_ON_PURPOSE = {"evt.id"}
IAM_TYPES = {
    "signup.completed", "password_reset.completed", "password_reset.failed",
    "password_reset.email_sent", "password_breach.email_sent", "email_verification.sent",
    "email_verification.completed", "email_verification.failed",
}


def paths(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested document by its dotted path (how Datadog names attributes)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict) and not (prefix + key).startswith("authlog.details"):
            out.update(paths(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_cases_cover_the_whole_catalog() -> None:
    """The table has all 20 built-in types and every reason, so no type escapes the mapping tests."""
    assert {t for t, _ in CASES} == set(CATALOG.names) and len(CATALOG) == 20
    assert len(CASES) == 20 + sum(len(k.reasons) for k in CATALOG) == 27


@pytest.mark.parametrize(("type_", "reason"), CASES)
def test_every_type_maps_to_its_standard_attributes(type_: str, reason: str | None) -> None:
    """Each type and reason yields the catalog's description, status, outcome and category in Datadog's names."""
    kind = CATALOG[type_]
    log = log_of(make_adapter(env="prod", tags=["team:security"]), full_event(type_, reason))
    assert log["message"] == kind.describe(reason) != ""
    assert (log["ddsource"], log["service"], log["hostname"]) == ("authlog", "authlog", "web-1")
    assert log["ddtags"].split(",") == [
        "env:prod", "tenant_id:t-42", f"event_type:{type_}", f"outcome:{kind.outcome}", "team:security",
    ]
    assert log["status"] == EXPECTED_STATUS[kind.outcome]
    assert log["timestamp"] == int(FIXED * 1000) and isinstance(log["timestamp"], int)
    assert log["evt"] == {
        "name": type_,
        "outcome": kind.outcome,
        "category": "iam" if type_ in IAM_TYPES else "authentication",
        "id": "0193a5e2-7c1d-7abc-8def-0123456789ab",
    }
    assert log["usr"] == {"id": "u-7", "email": "ana@example.com", "name": "ana@example.com"}
    assert log["network"] == {"client": {"ip": "203.0.113.7"}}
    assert log["http"] == {"useragent": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert log["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert log["dd"] == {"trace_id": str(0x4bf92f3577b34da6a3ce929d0e0e4736 & (2**64 - 1))}
    expected_own: dict[str, Any] = {"tenant_id": "t-42", "schema_version": 1, "details": {"k": "v", "attempt": 3}}
    if reason is not None:
        expected_own["reason"] = reason
    assert log["authlog"] == expected_own


@pytest.mark.parametrize(("type_", "reason"), CASES)
def test_attribute_names_are_datadog_standard_ones(type_: str, reason: str | None, standard_attributes: dict) -> None:
    """Outside our own `authlog.*` namespace, every attribute is an intake field, reserved or standard attribute."""
    log = log_of(make_adapter(env="prod"), full_event(type_, reason))
    known = set(standard_attributes["intake_fields"]) | set(standard_attributes["reserved"]) | set(standard_attributes["standard"])
    known |= set(standard_attributes["trace_correlation"])
    ours = {p for p in paths(log) if not p.startswith("authlog.")}
    assert ours - known == NON_STANDARD_ON_PURPOSE
    assert set(standard_attributes["cloud_siem_authentication"]) <= ours
    for path, value in paths(log).items():
        if standard_attributes["standard"].get(path) == "string":
            assert isinstance(value, str), path
    assert log["status"] in standard_attributes["status_values"]


@pytest.mark.parametrize(("type_", "reason"), CASES)
def test_nested_objects_never_dotted_keys(type_: str, reason: str | None) -> None:
    """No key at any level contains a dot (Datadog reads nesting, ES-style dotted keys would be literal)."""

    def keys(doc: dict[str, Any], inside_details: bool = False) -> list[str]:
        found = []
        for key, value in doc.items():
            if not inside_details:
                found.append(key)
            if isinstance(value, dict):
                found += keys(value, inside_details or key == "details")
        return found

    log = log_of(make_adapter(), full_event(type_, reason, details={"a.b": 1}))
    assert all("." not in k for k in keys(log))
    assert log["authlog"]["details"] == {"a.b": 1}  # the producer's own keys stay as sent, namespaced


@pytest.mark.parametrize(("type_", "reason"), CASES)
def test_minimal_event_leaves_absent_fields_out(type_: str, reason: str | None) -> None:
    """An event with only a type (and reason) maps without usr, network, http, trace_id, tenant tag or details."""
    event = full_event(type_, reason, tenantId=None, userId=None, email=None, ip=None, userAgent=None, traceId=None, details=None)
    log = log_of(make_adapter(), event)
    assert set(log) == {"message", "ddsource", "service", "hostname", "ddtags", "status", "timestamp", "evt", "authlog"}
    assert log["ddtags"] == f"event_type:{type_},outcome:{CATALOG[type_].outcome}"
    assert log["authlog"] == ({"reason": reason} if reason else {}) | {"schema_version": 1}


def test_invalid_email_login_has_no_user_id() -> None:
    """login.invalid_email carries the email without a user id: usr holds only what is known."""
    log = log_of(make_adapter(), full_event("login.invalid_email", userId=None))
    assert log["usr"] == {"email": "ana@example.com", "name": "ana@example.com"}


def test_status_override_per_type() -> None:
    """status_by_type replaces the catalog-derived status for that type only."""
    adapter = make_adapter(status_by_type={"user.locked": "error", "login.completed": "notice"})
    assert log_of(adapter, full_event("user.locked", "limit_passed"))["status"] == "error"
    assert log_of(adapter, full_event("login.completed"))["status"] == "notice"
    assert log_of(adapter, full_event("login.invalid_password"))["status"] == "warn"


@pytest.mark.parametrize(
    ("severity", "status"),
    [("info", "info"), ("notice", "notice"), ("warning", "warn"), ("error", "error"), ("critical", "critical")],
)
def test_status_follows_catalog_severity(severity: str, status: str) -> None:
    """An extension type's stated severity becomes the matching Datadog status, not its outcome's default."""
    kind = EventType(name="mfa.challenge.failed", action="MFA failed", outcome="failure", description="d", severity=severity)  # type: ignore[arg-type]
    settings = MappingSettings(service="s", source="authlog", hostname="h")
    event = full_event("login.invalid_password")
    assert to_datadog_log(event, kind, settings)["status"] == status


def test_extension_category_falls_back_to_authentication() -> None:
    """An extension type whose ECS category is neither authentication nor iam is filed under authentication."""
    kind = EventType(name="session.ended", action="a", outcome="success", description="d", ecs_category=("session",))
    settings = MappingSettings(service="s", source="authlog", hostname="h")
    assert to_datadog_log(full_event("login.completed"), kind, settings)["evt"]["category"] == "authentication"


@pytest.mark.parametrize(
    ("tenant", "expected"),
    [("t-42", "tenant_id:t-42"), ("acme, inc", "tenant_id:acme__inc"), ("a/b.c:d", "tenant_id:a/b.c:d"), ("é", "tenant_id:_")],
)
def test_tenant_tag_is_made_tag_safe_but_attribute_is_exact(tenant: str, expected: str) -> None:
    """A tenant id with commas or spaces cannot split ddtags; authlog.tenant_id keeps the exact value."""
    log = log_of(make_adapter(), full_event("login.completed", tenantId=tenant))
    assert log["ddtags"].split(",")[0] == expected
    assert log["authlog"]["tenant_id"] == tenant


def test_tags_are_capped_at_200_characters() -> None:
    """A very long tenant id gives a tag of Datadog's maximum length, not a longer one."""
    assert len(tag("tenant_id", "x" * 1000)) == 200


def test_mapping_is_pure_and_deterministic() -> None:
    """Mapping the same event twice gives the same bytes (and equal, separate logs) and leaves the event as it was."""
    event = full_event("magic_link.failed", "expired")
    before = encode_event(event)
    adapter = make_adapter()
    assert adapter.map(event) == adapter.map(event)
    first, second = (to_datadog_log(event, CATALOG[event.type], adapter.settings) for _ in range(2))
    assert first == second == log_of(adapter, event) and first is not second
    assert encode_event(event) == before


def test_hostname_defaults_to_this_machine_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without hostname the machine's name is read at construction and never again."""
    calls: list[int] = []

    def fake_gethostname() -> str:
        calls.append(1)
        return "box-1"

    monkeypatch.setattr("adapters.datadog.adapter.socket.gethostname", fake_gethostname)
    adapter = make_adapter(hostname=None)
    logs = [log_of(adapter, full_event("login.completed")) for _ in range(3)]
    assert [log["hostname"] for log in logs] == ["box-1"] * 3 and len(calls) == 1


def test_the_sinks_mapping_is_to_datadog_log_for_every_type() -> None:
    """With each type's shared parts worked out once, every log (first of its type or not, tenant or none) is to_datadog_log's."""
    adapter = make_adapter(env="prod", tags=["team:security"], status_by_type={"user.locked": "error"})
    for type_, reason in CASES * 2:
        for tenant in ("t-42", None):
            event = full_event(type_, reason, tenantId=tenant)
            assert log_of(adapter, event) == to_datadog_log(event, CATALOG[type_], adapter.settings), (type_, tenant)


@pytest.mark.parametrize("trace", ["4bf92f3577b34da6a3ce929d0e0e4736\n", "00f067aa0ba902b7\n", "12345\n", " 12345"])
def test_a_trace_id_with_whitespace_is_not_correlated(trace: str) -> None:
    """An id followed by a newline (Python's `$` matches before one, int() strips it) is ours, not the reserved trace_id."""
    log = log_of(make_adapter(), full_event("login.completed", None, traceId=trace))
    assert "trace_id" not in log and "dd" not in log
    assert log["authlog"]["trace_id"] == trace
