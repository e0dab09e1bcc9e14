"""The Cloud Logging mapping: every catalog type and reason -> a LogEntry as the REST API defines it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import msgspec
import pytest
from gcl_testkit import (
    EVENT_ID,
    FIXED,
    PROJECT,
    TRACE_ID,
    case_id,
    entry_of,
    event,
    every_type_and_reason,
    full_event,
    make_adapter,
    make_config,
)

from adapters.cloud_logging.mapping import PAYLOAD_FIELDS, EntryTemplate, log_name, to_log_entry
from shippers.catalog import builtin_catalog
from shippers.errors import ConfigError

CASES = every_type_and_reason()
EXPECTED_SEVERITY = {"success": "INFO", "failure": "WARNING"}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_type_maps_to_a_complete_log_entry(case: tuple[str, str | None], log_entry_facts: dict[str, Any]) -> None:
    """Each catalog type and reason gives a LogEntry with the documented logName, resource, severity, labels, httpRequest, trace and payload."""
    type_, reason = case
    kind = builtin_catalog()[type_]
    entry = entry_of(make_adapter(), full_event(type_, reason))

    assert set(entry) <= set(log_entry_facts["log_entry_fields"])
    assert [k for k in entry if k in log_entry_facts["payload_oneof"]] == ["jsonPayload"]
    assert entry["logName"] == f"projects/{PROJECT}/logs/authlog"
    assert re.fullmatch(log_entry_facts["log_name_pattern"], entry["logName"])
    assert entry["resource"] == {"type": "global", "labels": {"project_id": PROJECT}}
    assert entry["timestamp"] == "2026-11-25T19:34:33.123Z"
    assert entry["insertId"] == EVENT_ID
    assert entry["severity"] == EXPECTED_SEVERITY[kind.outcome]
    assert entry["severity"] in log_entry_facts["log_severity"]
    assert entry["labels"] == {"event_type": type_, "outcome": kind.outcome, "tenant_id": "t-42"}
    assert all(isinstance(v, str) for v in entry["labels"].values())
    assert entry["httpRequest"] == {"remoteIp": "203.0.113.7", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert set(entry["httpRequest"]) <= set(log_entry_facts["http_request_fields"])
    assert entry["trace"] == log_entry_facts["trace_format"].format(project=PROJECT, trace_id=TRACE_ID)

    payload = entry["jsonPayload"]
    description = kind.describe(reason)
    assert payload["message"] == description
    assert payload["description"] == description
    assert payload["action"] == kind.action
    assert payload["outcome"] == kind.outcome
    assert payload["type"] == type_
    assert payload["id"] == EVENT_ID
    assert payload.get("reason") == reason
    assert payload["authlog"] == {"schema_version": 1}
    for field, value in {"tenantId": "t-42", "userId": "u-7", "email": "ana@example.com", "ip": "203.0.113.7",
                         "traceId": TRACE_ID, "details": {"k": "v", "attempt": 3}}.items():  # fmt: skip
        assert payload[field] == value
    assert "schemaVersion" not in payload


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mapping_is_pure_and_deterministic(case: tuple[str, str | None]) -> None:
    """Mapping the same event twice, with two adapters of the same config, gives byte-identical entries."""
    e = full_event(*case)
    first, second = make_adapter(), make_adapter()
    assert first.encode_item(first.map(e)) == second.encode_item(second.map(e)) == first.encode_item(first.map(e))


def test_minimal_event_leaves_out_what_is_absent() -> None:
    """A failed login with an unknown email (no userId, ip, agent, trace or tenant) still maps, without empty fields."""
    entry = entry_of(make_adapter(), event("login.invalid_email", email="who@example.com"))
    assert "httpRequest" not in entry
    assert "trace" not in entry
    assert entry["labels"] == {"event_type": "login.invalid_email", "outcome": "failure"}
    assert entry["severity"] == "WARNING"
    assert set(entry["jsonPayload"]) == {"message", "id", "type", "time", "email", "action", "outcome", "description", "userName", "authlog"}
    assert entry["jsonPayload"]["userName"] == "who@example.com"  # a stable identity for a failure that carries only an email


def test_http_request_carries_only_the_fields_present() -> None:
    """An event with an ip but no user agent gets httpRequest.remoteIp alone (and vice versa)."""
    assert entry_of(make_adapter(), event("login.completed", ip="2001:db8::1"))["httpRequest"] == {"remoteIp": "2001:db8::1"}
    assert entry_of(make_adapter(), event("login.completed", userAgent="curl/8"))["httpRequest"] == {"userAgent": "curl/8"}


def test_log_name_is_url_encoded() -> None:
    """A log name with '/' is URL-encoded inside logName, as the LogEntry reference requires."""
    entry = entry_of(make_adapter(log_name="auth/events.v1"), event("login.completed"))
    assert entry["logName"] == f"projects/{PROJECT}/logs/auth%2Fevents.v1"
    assert unquote(entry["logName"].rsplit("/logs/", 1)[1]) == "auth/events.v1"
    assert log_name("p-1", "a b") == "projects/p-1/logs/a%20b"


def test_severity_by_type_overrides_the_catalog() -> None:
    """severity_by_type changes the severity of the named type only."""
    adapter = make_adapter(severity_by_type={"user.locked": "ERROR", "login.completed": "NOTICE"})
    assert entry_of(adapter, event("user.locked", "locked"))["severity"] == "ERROR"
    assert entry_of(adapter, event("login.completed"))["severity"] == "NOTICE"
    assert entry_of(adapter, event("login.invalid_password"))["severity"] == "WARNING"


def test_severity_by_type_with_an_unknown_type_is_a_config_error() -> None:
    """A misspelt type in severity_by_type fails at start-up, naming the key and the nearest type."""
    with pytest.raises(ConfigError) as info:
        make_adapter(severity_by_type={"user.lockd": "ERROR"})
    assert "sinks.gcl.severity_by_type.user.lockd" in str(info.value)
    assert "user.locked" in str(info.value)


def test_severity_by_type_rejects_a_non_severity() -> None:
    """Only LogSeverity names are accepted as severities."""
    with pytest.raises(msgspec.ValidationError):
        make_config(severity_by_type={"user.locked": "LOUD"})


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"type": "generic_node", "labels": {"location": "europe-west1", "namespace": "auth", "node_id": "web-1"}},
         {"type": "generic_node", "labels": {"location": "europe-west1", "namespace": "auth", "node_id": "web-1", "project_id": PROJECT}}),
        ({"type": "k8s_container", "labels": {"location": "europe-west1-b", "cluster_name": "prod", "namespace_name": "auth",
                                               "pod_name": "api-7d9", "container_name": "authlog"}},
         {"type": "k8s_container", "labels": {"location": "europe-west1-b", "cluster_name": "prod", "namespace_name": "auth",
                                               "pod_name": "api-7d9", "container_name": "authlog", "project_id": PROJECT}}),
        ({"type": "cloud_run_revision", "labels": {"service_name": "api"}},
         {"type": "cloud_run_revision", "labels": {"service_name": "api"}}),
    ],
    ids=["generic_node", "k8s_container", "unchecked_type"],
)  # fmt: skip
def test_configured_resource_is_used(resource: dict[str, Any], expected: dict[str, Any], log_entry_facts: dict[str, Any]) -> None:
    """The configured monitored resource (with project_id filled in where the type has it) goes on every entry."""
    entry = entry_of(make_adapter(resource=resource), event("login.completed"))
    assert entry["resource"] == expected
    known = log_entry_facts["resource_labels"].get(expected["type"])
    if known is not None:
        assert set(entry["resource"]["labels"]) <= set(known)


def test_resource_label_not_of_that_type_is_a_config_error() -> None:
    """A label that the resource type does not have is refused, naming it and the type's labels."""
    with pytest.raises(msgspec.ValidationError, match=r"resource.labels.pod: not a label of k8s_container"):
        make_config(resource={"type": "k8s_container", "labels": {"pod": "x"}})


def test_configured_labels_are_added_and_cannot_shadow_ours() -> None:
    """Configured labels appear on every entry; event_type/outcome/tenant_id are reserved."""
    entry = entry_of(make_adapter(labels={"env": "prod", "app": "web"}), full_event("login.completed"))
    assert entry["labels"] == {"env": "prod", "app": "web", "event_type": "login.completed", "outcome": "success", "tenant_id": "t-42"}
    with pytest.raises(msgspec.ValidationError, match="labels.outcome: set by the adapter"):
        make_config(labels={"outcome": "x"})


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"project": "My Project"}, "project:"),
        ({"project": "p/x"}, "project:"),
        ({"log_name": "auth log"}, "log_name:"),
        ({"log_name": "x" * 512}, "log_name:"),
        ({"endpoint": "127.0.0.1:9500"}, "endpoint:"),
        ({"request_timeout": 0}, "request_timeout:"),
        ({"labels": {f"l{i}": "v" for i in range(62)}}, "labels: at most 61"),
    ],
    ids=["space", "slash", "log_space", "log_long", "no_scheme", "timeout", "too_many_labels"],
)
def test_bad_config_values_are_refused_with_the_key(keys: dict[str, Any], message: str) -> None:
    """Impossible config values fail validation with a message naming the key."""
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        make_config(**keys)


def test_the_loader_reports_bad_keys_with_the_sink_path(tmp_path: Any) -> None:
    """Through the config loader, unknown and bad cloud_logging keys are errors naming sinks.<name>.<key>."""
    from shippers.config import config_from_dict

    with pytest.raises(ConfigError) as info:
        config_from_dict(
            {"buffer": {"path": str(tmp_path)}, "sinks": {"gcl": {"type": "cloud_logging", "project": "p-1", "log_nam": "x",
                                                                  "resource": {"type": "k8s_container", "labels": {"pod": "x"}}}}}
        )  # fmt: skip
    text = str(info.value)
    assert "sinks.gcl.log_nam: unknown key (did you mean 'log_name'?)" in text
    assert "resource.labels.pod" in text


def test_template_is_built_once_from_config_and_catalog() -> None:
    """The template holds a severity for every catalog type, so mapping needs no lookups elsewhere."""
    template = EntryTemplate.build(make_config(), builtin_catalog())
    assert set(template.severities) == set(builtin_catalog().names)
    assert to_log_entry(event("login.completed"), template)["severity"] == "INFO"


def test_entries_share_no_mutable_parts() -> None:
    """Changing one mapped entry's resource or labels does not change the next one."""
    template = make_adapter(labels={"env": "prod"}).template
    first = to_log_entry(event("login.completed"), template)
    first["resource"]["labels"]["project_id"] = "changed"
    first["labels"]["env"] = "changed"
    second = to_log_entry(event("login.completed"), template)
    assert second["resource"]["labels"]["project_id"] == PROJECT
    assert second["labels"]["env"] == "prod"


def test_fixed_clock_is_the_event_time() -> None:
    """The test clock and the fixture time agree, so time-window tests are meaningful."""
    assert event("login.completed").timestamp.timestamp() == pytest.approx(FIXED)


@pytest.mark.parametrize("suffix", ["\n", " ", "\t"])
def test_a_trace_id_with_trailing_whitespace_is_no_trace(suffix: str) -> None:
    """A valid id followed by a newline (Python's `$` matches before one) stays in jsonPayload and sets no `trace`."""
    entry = entry_of(make_adapter(), event("login.completed", traceId=TRACE_ID + suffix))
    assert "trace" not in entry
    assert entry["jsonPayload"]["traceId"] == TRACE_ID + suffix


def test_the_payload_holds_the_wire_fields_in_archive_line_order() -> None:
    """jsonPayload starts with the message, then every canonical wire field in archive-line order, then the catalog's action, outcome, description."""
    payload = to_log_entry(full_event("user.locked", "locked", details={"k": 1}), make_adapter().template)["jsonPayload"]
    assert list(payload)[: len(PAYLOAD_FIELDS) + 4] == ["message", *PAYLOAD_FIELDS, "action", "outcome", "description"]
