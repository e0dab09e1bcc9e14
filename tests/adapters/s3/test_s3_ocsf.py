"""Every catalog type's OCSF line validates against the OCSF 1.1.0 facts of its class (tests/data/s3)."""

from __future__ import annotations

from typing import Any

import pytest
from ocsf_check import ocsf_problems
from s3_testkit import every_type_and_reason, full_event, line_of, make_adapter, minimal_event, ocsf_facts

from adapters.s3 import mapping, ocsf_schema

CASES = every_type_and_reason()
IDS = [f"{t}:{r}" for t, r in CASES]

@pytest.mark.parametrize(("type_", "reason"), CASES, ids=IDS)
@pytest.mark.parametrize("shape", ["full", "minimal", "email_only"])
def test_ocsf_line_validates_against_its_class(type_: str, reason: str | None, shape: str) -> None:
    """Required attributes present, every attribute known, enums in range, captions right, type_uid by formula."""
    if shape == "full":
        event = full_event(type_, reason)
    elif shape == "minimal":
        event = minimal_event(type_, reason)
    else:
        event = full_event(type_, reason, userId=None, ip=None, userAgent=None)
    line = line_of(make_adapter(format="ocsf", service_name="shop"), event)
    assert ocsf_problems(line) == []


def test_metadata_version_is_the_facts_schema_version() -> None:
    """metadata.version names the OCSF version the lines were checked against."""
    for class_uid in (3001, 3002):
        assert ocsf_facts(class_uid)["_source"]["schema_version"] == mapping.OCSF_VERSION


def test_mapping_captions_match_the_facts() -> None:
    """The activity captions and class names in the mapping module are OCSF's own."""
    for class_uid, names in ocsf_schema.ACTIVITY_NAMES.items():
        facts = ocsf_facts(class_uid)
        assert {str(k): v for k, v in names.items()} == facts["attributes"]["activity_id"]["enum"]
        assert ocsf_schema.CLASS_NAMES[class_uid] == facts["caption"]
        assert ocsf_schema.CATEGORY_NAME == facts["category_caption"]
        severities = facts["attributes"]["severity_id"]["enum"]
        assert all(severities[str(i)] == caption for i, caption in ocsf_schema.SEVERITY.values())
        statuses = facts["attributes"]["status_id"]["enum"]
        assert all(statuses[str(i)] == caption for i, caption in ocsf_schema.STATUS.values())
    for class_uid, activity_id in ocsf_schema.LATER_ACTIVITY_NAMES:
        assert str(activity_id) not in ocsf_facts(class_uid)["attributes"]["activity_id"]["enum"]


def test_enum_tables_match_the_facts() -> None:
    """Observable, OS and device type ids and captions in ocsf_schema are 1.1.0's own."""
    objects = ocsf_facts(3002)["objects"]
    observable_types = objects["observable"]["attributes"]["type_id"]["enum"]
    for type_id, caption in (ocsf_schema.OBSERVABLE_IP, ocsf_schema.OBSERVABLE_EMAIL, ocsf_schema.OBSERVABLE_USER_NAME,
                             ocsf_schema.OBSERVABLE_OTHER):
        assert observable_types[str(type_id)] == caption
    os_types = objects["os"]["attributes"]["type_id"]["enum"]
    assert all(os_types[str(i)] == caption for i, caption in [*ocsf_schema.OS_TYPES.values(), ocsf_schema.OS_OTHER])
    device_types = objects["device"]["attributes"]["type_id"]["enum"]
    assert all(device_types[str(i)] == caption for i, caption in ocsf_schema.DEVICE_TYPES_BY_OS.values())
    assert device_types[str(ocsf_schema.DEVICE_UNKNOWN[0])] == ocsf_schema.DEVICE_UNKNOWN[1]
    assert ocsf_facts(3002)["attributes"]["device"]["profile"] == ocsf_schema.HOST_PROFILE


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda line: line.pop("user"), ".user: required and missing"),
        (lambda line: line["metadata"].pop("version"), ".metadata.version: required and missing"),
        (lambda line: line.update(type_uid=300299), "type_uid: is not class_uid * 100"),
        (lambda line: line.update(status_id=7), ".status_id: 7 is not one of"),
        (lambda line: line.update(activity_id=42, type_uid=300242), ".activity_id: 42 is not one of"),
        (lambda line: line.update(time="2026-11-25T19:34:33Z"), ".time: str where timestamp_t"),
        (lambda line: line.update(src_endpoint={"ipv4": "1.2.3.4"}), ".src_endpoint.ipv4: not an attribute"),
        (lambda line: line.update(user={"email_addr": "a@example.com"}), ".user: needs at least one of"),
        (lambda line: line.update(severity="High"), "severity: 'High' is not the caption"),
        (lambda line: line.update(device={"name": "Mac", "type_id": 2}), ".device: needs the host profile"),
        (lambda line: line.update(observables=[{"name": "x", "type_id": 2, "type": "Email Address"}]), ".type: 'Email Address' is not the caption"),
        (lambda line: line.update(activity_name="Logoff"), ".activity_name: 'Logoff' is not the caption"),
        (lambda line: line.update(colour="red"), ".colour: not an attribute here"),
    ],
)
def test_the_validator_catches_broken_lines(damage: Any, needle: str) -> None:
    """The checker is not vacuous: each kind of damage to a valid line is reported."""
    line = line_of(make_adapter(format="ocsf"), full_event("login.completed"))
    assert ocsf_problems(line) == []
    damage(line)
    problems = ocsf_problems(line)
    assert any(needle in p for p in problems), problems
