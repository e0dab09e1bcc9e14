"""The S3 lines: the archive line by default, and OCSF fields per DESIGN.md's table for every type."""

from __future__ import annotations

import msgspec
import pytest
from s3_testkit import FIXED, every_type_and_reason, full_event, line_of, make_adapter, minimal_event

from adapters.contract import SinkContext
from adapters.file import FileAdapter
from adapters.s3.mapping import OCSF_VERSION, PRODUCT_NAME, to_ocsf
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.event import encode_event

# DESIGN.md's mapping table, written out independently of the catalog: type -> (class_uid, activity_id).
DESIGN_OCSF = {
    "login.completed": (3002, 1), "login.invalid_email": (3002, 1), "login.invalid_password": (3002, 1),
    "login.invalid_session": (3002, 1), "magic_link.failed": (3002, 1), "magic_code.failed": (3002, 1),
    "login.email_sent": (3002, 99), "login.sms_sent": (3002, 99),  # the catalog's Preauth (6) is OCSF 1.2: Other in 1.1.0
    "lockout_policy.limit_reached": (3002, 1), "recaptcha_policy.validation_failed": (3002, 1),
    "ip_policy.validation_failed": (3002, 1),
    "user.locked": (3002, 1), "signup.completed": (3001, 1),
    "password_reset.completed": (3001, 4), "password_reset.failed": (3001, 4),
    "password_reset.email_sent": (3001, 99), "password_breach.email_sent": (3001, 99), "email_verification.sent": (3001, 99),
    "email_verification.completed": (3001, 99), "email_verification.failed": (3001, 99),
}
CASES = every_type_and_reason()
IDS = [f"{t}:{r}" for t, r in CASES]


def test_the_design_table_covers_the_catalog() -> None:
    """Every catalog type has a row here, so a new type cannot slip past the table tests."""
    assert set(DESIGN_OCSF) == set(builtin_catalog().names) and len(DESIGN_OCSF) == 20


@pytest.mark.parametrize(("type_", "reason"), CASES, ids=IDS)
def test_ndjson_line_is_the_archive_line(type_: str, reason: str | None) -> None:
    """format = "ndjson" writes exactly the line the file sink writes (encode_event)."""
    event = full_event(type_, reason)
    s3 = make_adapter()
    file_sink = FileAdapter(
        SinkContext("local", builtin_catalog(), lambda: FIXED),
        config_from_dict({"sinks": {"local": {"type": "file", "path": "/tmp/unused.ndjson"}}}).sinks["local"].adapter,
    )
    line = s3.encode_item(s3.map(event))
    assert line == encode_event(event) == file_sink.encode_item(file_sink.map(event))
    decoded = msgspec.json.decode(line)
    assert decoded["description"] == builtin_catalog()[type_].describe(reason)
    assert decoded["schemaVersion"] == 1 and decoded["id"] == event.id


@pytest.mark.parametrize(("type_", "reason"), CASES, ids=IDS)
def test_ocsf_classification_follows_design(type_: str, reason: str | None) -> None:
    """class, activity, type_uid, category, status and severity come from the catalog as DESIGN.md says."""
    kind = builtin_catalog()[type_]
    line = line_of(make_adapter(format="ocsf"), full_event(type_, reason))
    class_uid, activity_id = DESIGN_OCSF[type_]
    assert (line["class_uid"], line["activity_id"]) == (class_uid, activity_id)
    if (kind.ocsf_class_uid, kind.ocsf_activity_id) == (3002, 6):
        assert line["activity_name"] == "Preauth" and line["type_name"] == "Authentication: Other"
    assert line["type_uid"] == class_uid * 100 + activity_id
    assert line["category_uid"] == 3
    assert line["status_id"] == {"success": 1, "failure": 2}[kind.outcome]
    assert line["severity_id"] == {"info": 1, "warning": 3}[kind.severity]
    assert line["message"] == line["status_detail"] == kind.describe(reason)
    assert line.get("status_code") == reason


@pytest.mark.parametrize("type_", ["lockout_policy.limit_reached", "recaptcha_policy.validation_failed", "ip_policy.validation_failed"])
def test_policy_failures_are_logon_failures(type_: str) -> None:
    """DESIGN.md: these are Logon (1) with status Failure."""
    line = line_of(make_adapter(format="ocsf"), full_event(type_))
    assert (line["activity_id"], line["status_id"], line["status"]) == (1, 2, "Failure")


@pytest.mark.parametrize(("type_", "reason"), CASES, ids=IDS)
def test_ocsf_fields_from_the_event(type_: str, reason: str | None) -> None:
    """user, src_endpoint.ip, http_request.user_agent, time (ms) and metadata carry the event's values."""
    event = full_event(type_, reason)
    line = line_of(make_adapter(format="ocsf", service_name="shop"), event)
    assert line["user"] == {"uid": "u-7", "name": "ana@example.com", "email_addr": "ana@example.com"}
    assert line["actor"] == {"user": line["user"]}
    assert line["src_endpoint"] == {"ip": "203.0.113.7"}
    assert line["observables"] == [
        {"name": "src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": "203.0.113.7"},
        {"name": "user.email_addr", "type_id": 5, "type": "Email Address", "value": "ana@example.com"},
        {"name": "user.name", "type_id": 4, "type": "User Name", "value": "ana@example.com"},
        {"name": "user.uid", "type_id": 99, "type": "User ID", "value": "u-7"},
    ]
    assert line["http_request"] == {"user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert line["time"] == 1_795_635_273_123 == event.epoch_ms
    meta = line["metadata"]
    assert meta["uid"] == event.id and meta["version"] == OCSF_VERSION
    assert meta["product"]["name"] == PRODUCT_NAME and meta["product"]["vendor_name"]
    assert (meta["tenant_uid"], meta["correlation_uid"], meta["event_code"]) == ("t-42", event.traceId, type_)
    assert line["unmapped"]["details"] == {"k": "v", "attempt": 3}
    if line["class_uid"] == 3002:
        assert line["service"] == {"name": "shop"}
    else:
        assert "service" not in line  # Account Change has no service attribute


@pytest.mark.parametrize(
    ("fields", "user"),
    [
        ({"userId": "u-1", "email": "a@example.com"}, {"uid": "u-1", "name": "a@example.com", "email_addr": "a@example.com"}),
        ({"userId": "u-1"}, {"uid": "u-1", "name": "u-1"}),
        ({"email": "a@example.com"}, {"name": "a@example.com", "email_addr": "a@example.com"}),
        ({}, {"name": "unknown"}),
    ],
)
def test_ocsf_user_is_always_present(fields: dict[str, str], user: dict[str, str]) -> None:
    """The email names the user (a stable identity when there is no id, as in login.invalid_email), else the id, else "unknown"."""
    event = full_event("login.invalid_email", **{"userId": None, "email": None, **fields})
    assert line_of(make_adapter(format="ocsf"), event)["user"] == user


def test_ocsf_leaves_out_absent_optional_fields() -> None:
    """A minimal event has no src_endpoint, http_request, tenant or details; no nulls are written."""
    line = line_of(make_adapter(format="ocsf"), minimal_event("login.completed"))
    assert not {"src_endpoint", "http_request", "status_code"} & set(line)
    assert "tenant_uid" not in line["metadata"] and "details" not in line["unmapped"]
    assert b"null" not in msgspec.json.encode(line)


def test_ocsf_mapping_is_pure() -> None:
    """The same event maps to byte-identical lines, and the event is not modified."""
    event = full_event("magic_link.failed", "expired")
    before = encode_event(event)
    kind = builtin_catalog()["magic_link.failed"]
    assert msgspec.json.encode(to_ocsf(event, kind)) == msgspec.json.encode(to_ocsf(event, kind))
    assert encode_event(event) == before
