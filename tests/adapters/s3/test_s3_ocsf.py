"""Every catalog type's OCSF line validates against the OCSF facts of its class (tests/data/s3)."""

from __future__ import annotations

from typing import Any

import pytest
from s3_testkit import every_type_and_reason, full_event, line_of, make_adapter, minimal_event, ocsf_facts

from adapters.s3 import mapping

CASES = every_type_and_reason()
IDS = [f"{t}:{r}" for t, r in CASES]

# OCSF scalar types -> the JSON (Python) types a value of that type may have.
SCALARS: dict[str, tuple[type, ...]] = {
    "string_t": (str,), "integer_t": (int,), "long_t": (int,), "timestamp_t": (int,), "boolean_t": (bool,),
    "ip_t": (str,), "email_t": (str,), "username_t": (str,), "url_t": (str,), "port_t": (int,), "hostname_t": (str,),
    "float_t": (float, int), "json_t": (object,), "object": (dict,),
}


def _check_value(path: str, value: Any, spec: dict[str, Any], facts: dict[str, Any], problems: list[str]) -> None:
    if spec.get("is_array"):
        if not isinstance(value, list):
            problems.append(f"{path}: must be an array")
            return
        for i, element in enumerate(value):
            _check_value(f"{path}[{i}]", element, {**spec, "is_array": False}, facts, problems)
        return
    object_type = spec.get("object_type")
    if object_type and object_type != "object":
        if object_type not in facts["objects"]:
            problems.append(f"{path}: object {object_type} is not in the test facts; copy it to tests/data/s3")
            return
        _check_object(path, value, facts["objects"][object_type], facts, problems)
        return
    kind = spec.get("type", "")
    allowed = SCALARS.get(kind) or SCALARS.get(spec.get("base_type", ""))
    if allowed is None:
        problems.append(f"{path}: unknown OCSF type {kind}")
    elif isinstance(value, bool) and bool not in allowed:
        problems.append(f"{path}: a boolean where {kind} is expected")
    elif not isinstance(value, allowed):
        problems.append(f"{path}: {type(value).__name__} where {kind} is expected")
    if "enum" in spec and str(value) not in spec["enum"]:
        problems.append(f"{path}: {value!r} is not one of {sorted(spec['enum'])}")


def _check_object(path: str, value: Any, schema: dict[str, Any], facts: dict[str, Any], problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: must be an object")
        return
    attributes = schema["attributes"]
    for name in schema["required"]:
        if name not in value:
            problems.append(f"{path}.{name}: required and missing")
    for name, sub in value.items():
        if name not in attributes:
            problems.append(f"{path}.{name}: not an attribute here")
            continue
        if sub is None:
            problems.append(f"{path}.{name}: null (leave it out instead)")
            continue
        _check_value(f"{path}.{name}", sub, attributes[name], facts, problems)
    for group in schema.get("constraints", {}).get("at_least_one", []) and [schema["constraints"]["at_least_one"]]:
        if not any(name in value for name in group):
            problems.append(f"{path}: needs at least one of {group}")


def ocsf_problems(line: dict[str, Any]) -> list[str]:
    """Every way ``line`` departs from its class's facts (empty when valid)."""
    class_uid = line.get("class_uid")
    if class_uid not in (3001, 3002):
        return [f"class_uid: {class_uid!r} is neither 3001 nor 3002"]
    facts = ocsf_facts(class_uid)
    problems: list[str] = []
    _check_object("", line, facts, facts, problems)
    if line.get("type_uid") != class_uid * 100 + line.get("activity_id", -1):
        problems.append("type_uid: is not class_uid * 100 + activity_id")
    if line.get("category_uid") != facts["category_uid"]:
        problems.append(f"category_uid: must be {facts['category_uid']}")
    for name, caption_of in (("activity_name", "activity_id"), ("type_name", "type_uid"), ("severity", "severity_id"), ("status", "status_id")):
        if name in line and line[name] != facts["attributes"][caption_of]["enum"].get(str(line[caption_of])):
            problems.append(f"{name}: {line[name]!r} is not the caption of {caption_of} {line[caption_of]}")
    if "class_name" in line and line["class_name"] != facts["caption"]:
        problems.append("class_name: is not the class caption")
    if "category_name" in line and line["category_name"] != facts["category_caption"]:
        problems.append("category_name: is not the category caption")
    return problems


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


@pytest.mark.parametrize(("type_", "reason"), CASES[:3], ids=IDS[:3])
def test_ocsf_line_without_service_name_still_validates(type_: str, reason: str | None) -> None:
    """With service_name unset, Authentication's service-or-dst_endpoint constraint still holds."""
    assert ocsf_problems(line_of(make_adapter(format="ocsf"), full_event(type_, reason))) == []


def test_metadata_version_is_the_facts_schema_version() -> None:
    """metadata.version names the OCSF version the lines were checked against."""
    for class_uid in (3001, 3002):
        assert ocsf_facts(class_uid)["_source"]["schema_version"] == mapping.OCSF_VERSION


def test_mapping_captions_match_the_facts() -> None:
    """The activity captions and class names in the mapping module are OCSF's own."""
    for class_uid, names in mapping.ACTIVITY_NAMES.items():
        facts = ocsf_facts(class_uid)
        assert {str(k): v for k, v in names.items()} == facts["attributes"]["activity_id"]["enum"]
        assert mapping.CLASS_NAMES[class_uid] == facts["caption"]
        assert mapping.CATEGORY_NAME == facts["category_caption"]
        severities = facts["attributes"]["severity_id"]["enum"]
        assert all(severities[str(i)] == caption for i, caption in mapping.SEVERITY.values())
        statuses = facts["attributes"]["status_id"]["enum"]
        assert all(statuses[str(i)] == caption for i, caption in mapping.STATUS.values())


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
