"""An OCSF checker built from the resolved facts in tests/data/s3 (OCSF 1.1.0): what a line gets wrong.

Checks, for the line and every object in it: required attributes, unknown attributes, nulls,
scalar types, arrays, enums, enum siblings (the caption of the id, except for 99 Other, whose
caption is the source's own), at-least-one constraints, and profile attributes (allowed only when
``metadata.profiles`` names the profile); for the line: type_uid by formula and the class and
category captions.
"""

from __future__ import annotations

from typing import Any

from s3_testkit import ocsf_facts

# OCSF scalar types -> the JSON (Python) types a value of that type may have.
SCALARS: dict[str, tuple[type, ...]] = {
    "string_t": (str,), "integer_t": (int,), "long_t": (int,), "timestamp_t": (int,), "boolean_t": (bool,),
    "ip_t": (str,), "email_t": (str,), "username_t": (str,), "url_t": (str,), "port_t": (int,), "hostname_t": (str,),
    "float_t": (float, int), "json_t": (object,), "object": (dict,),
}
OTHER = "99"


class _Check:
    def __init__(self, facts: dict[str, Any], profiles: list[str]) -> None:
        self.facts = facts
        self.profiles = set(profiles)
        self.problems: list[str] = []

    def value(self, path: str, value: Any, spec: dict[str, Any]) -> None:
        if spec.get("is_array"):
            if not isinstance(value, list):
                self.problems.append(f"{path}: must be an array")
                return
            for i, element in enumerate(value):
                self.value(f"{path}[{i}]", element, {**spec, "is_array": False})
            return
        object_type = spec.get("object_type")
        if object_type and object_type != "object":
            if object_type not in self.facts["objects"]:
                self.problems.append(f"{path}: object {object_type} is not in the test facts; copy it to tests/data/s3")
                return
            self.object(path, value, self.facts["objects"][object_type])
            return
        kind = spec.get("type", "")
        allowed = SCALARS.get(kind) or SCALARS.get(spec.get("base_type", ""))
        if allowed is None:
            self.problems.append(f"{path}: unknown OCSF type {kind}")
        elif isinstance(value, bool) and bool not in allowed:
            self.problems.append(f"{path}: a boolean where {kind} is expected")
        elif not isinstance(value, allowed):
            self.problems.append(f"{path}: {type(value).__name__} where {kind} is expected")
        if "enum" in spec and str(value) not in spec["enum"]:
            self.problems.append(f"{path}: {value!r} is not one of {sorted(spec['enum'])}")

    def object(self, path: str, value: Any, schema: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: must be an object")
            return
        attributes = schema["attributes"]
        for name in schema["required"]:
            if name not in value:
                self.problems.append(f"{path}.{name}: required and missing")
        for name, sub in value.items():
            spec = attributes.get(name)
            if spec is None:
                self.problems.append(f"{path}.{name}: not an attribute here")
                continue
            if spec.get("profile") and spec["profile"] not in self.profiles:
                self.problems.append(f"{path}.{name}: needs the {spec['profile']} profile in metadata.profiles")
            if sub is None:
                self.problems.append(f"{path}.{name}: null (leave it out instead)")
                continue
            self.value(f"{path}.{name}", sub, spec)
            sibling = spec.get("sibling")
            if sibling and sibling in value and "enum" in spec and str(sub) != OTHER:
                caption = spec["enum"].get(str(sub))
                if value[sibling] != caption:
                    self.problems.append(f"{path}.{sibling}: {value[sibling]!r} is not the caption of {name} {sub}")
        group = schema.get("constraints", {}).get("at_least_one")
        if group and not any(name in value for name in group):
            self.problems.append(f"{path}: needs at least one of {group}")


def ocsf_problems(line: dict[str, Any]) -> list[str]:
    """Every way ``line`` departs from its class's facts (empty when valid)."""
    class_uid = line.get("class_uid")
    if class_uid not in (3001, 3002):
        return [f"class_uid: {class_uid!r} is neither 3001 nor 3002"]
    facts = ocsf_facts(class_uid)
    profiles = (line.get("metadata") or {}).get("profiles") or []
    check = _Check(facts, profiles)
    check.object("", line, facts)
    if line.get("type_uid") != class_uid * 100 + line.get("activity_id", -1):
        check.problems.append("type_uid: is not class_uid * 100 + activity_id")
    if line.get("category_uid") != facts["category_uid"]:
        check.problems.append(f"category_uid: must be {facts['category_uid']}")
    type_caption = facts["attributes"]["type_uid"]["enum"].get(str(line.get("type_uid")))
    if "type_name" in line and line["type_name"] != type_caption:
        check.problems.append(f"type_name: {line['type_name']!r} is not the caption of type_uid {line.get('type_uid')}")
    if "class_name" in line and line["class_name"] != facts["caption"]:
        check.problems.append("class_name: is not the class caption")
    if "category_name" in line and line["category_name"] != facts["category_caption"]:
        check.problems.append("category_name: is not the category caption")
    return check.problems
