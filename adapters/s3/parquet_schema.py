"""The Parquet schema of our OCSF events: every attribute the mapping writes, typed as OCSF 1.1.0 types it.

``COLUMNS`` is the tree of attributes :mod:`.mapping` can write (one schema for both classes:
an attribute a class lacks is null in its objects, and each object holds one class only), each
leaf named by its OCSF type; ``tests/adapters/s3/test_s3_parquet_schema.py`` checks every leaf's
type against the resolved OCSF facts in ``tests/data/s3``. OCSF types become Arrow types as
Security Lake's own OCSF tables store them::

    string_t and its subtypes (ip_t, email_t, username_t...)  -> string
    integer_t -> int32    long_t -> int64    timestamp_t -> int64 (epoch milliseconds, OCSF's unit)
    float_t -> float64    boolean_t -> bool   json_t -> string (the JSON text)
    [x] -> list<x>        {...} -> struct
    unmapped (OCSF: any object) -> struct<action string, details string (JSON text)>: the two keys we write
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

# Why: OCSF 1.1.0 dictionary types: these are string_t underneath (their `type` in dictionary.types).
STRING_TYPES = frozenset({"string_t", "ip_t", "email_t", "username_t", "hostname_t", "url_t", "mac_t", "json_t"})
ARROW_SCALARS: dict[str, pa.DataType] = {
    "integer_t": pa.int32(),
    "long_t": pa.int64(),
    "timestamp_t": pa.int64(),
    "port_t": pa.int32(),
    "float_t": pa.float64(),
    "boolean_t": pa.bool_(),
}

Spec = str | dict[str, Any] | list[Any]

_USER: dict[str, Spec] = {"uid": "string_t", "name": "username_t", "email_addr": "email_t"}
# The tree of attributes the mapping writes, in line order (a leaf is its OCSF type; [x] an array of x).
COLUMNS: dict[str, Spec] = {
    "class_uid": "integer_t",
    "class_name": "string_t",
    "category_uid": "integer_t",
    "category_name": "string_t",
    "activity_id": "integer_t",
    "activity_name": "string_t",
    "type_uid": "long_t",
    "type_name": "string_t",
    "severity_id": "integer_t",
    "severity": "string_t",
    "status_id": "integer_t",
    "status": "string_t",
    "status_code": "string_t",
    "status_detail": "string_t",
    "message": "string_t",
    "time": "timestamp_t",
    "user": _USER,
    "actor": {"user": _USER},
    "src_endpoint": {
        "ip": "ip_t",
        "uid": "string_t",
        "name": "string_t",
        "location": {
            "city": "string_t", "country": "string_t", "region": "string_t", "postal_code": "string_t",
            "continent": "string_t", "coordinates": ["float_t"], "desc": "string_t", "isp": "string_t",
        },
    },
    "http_request": {"user_agent": "string_t"},
    "device": {
        "name": "string_t", "type_id": "integer_t", "type": "string_t",
        "os": {"name": "string_t", "type_id": "integer_t", "type": "string_t", "version": "string_t"},
    },
    "service": {"name": "string_t"},
    "observables": [{"name": "string_t", "type_id": "integer_t", "type": "string_t", "value": "string_t"}],
    "enrichments": [{"name": "string_t", "value": "string_t", "type": "string_t", "data": "json_t"}],
    "metadata": {
        "uid": "string_t",
        "version": "string_t",
        "product": {"name": "string_t", "vendor_name": "string_t", "version": "string_t"},
        "event_code": "string_t",
        "profiles": ["string_t"],
        "tenant_uid": "string_t",
        "correlation_uid": "string_t",
    },
    # OCSF's unmapped is a free-form object: its columns are ours (tests exempt it from the class facts).
    "unmapped": {"action": "string_t", "details": "json_t"},
}
# Top-level attributes whose OCSF type is a free-form object (no sub-attributes to check against).
FREE_FORM = frozenset({"unmapped"})


def arrow_type(spec: Spec) -> pa.DataType:
    """The Arrow type of one OCSF attribute spec (a type name, an object's tree, or an array of one)."""
    if isinstance(spec, list):
        return pa.list_(arrow_type(spec[0]))
    if isinstance(spec, dict):
        return pa.struct([pa.field(name, arrow_type(sub)) for name, sub in spec.items()])
    if spec in STRING_TYPES:
        return pa.string()
    return ARROW_SCALARS[spec]


def arrow_schema() -> pa.Schema:
    """The schema of every object: one nullable column per top-level attribute."""
    return pa.schema([pa.field(name, arrow_type(spec)) for name, spec in COLUMNS.items()])


def leaves(spec: Spec = COLUMNS, path: str = "") -> dict[str, str]:
    """``{"src_endpoint.location.city": "string_t", ...}``: every leaf attribute and its OCSF type."""
    if isinstance(spec, list):
        return leaves(spec[0], path)
    if isinstance(spec, dict):
        out: dict[str, str] = {}
        for name, sub in spec.items():
            out.update(leaves(sub, f"{path}.{name}" if path else name))
        return out
    return {path: spec}
