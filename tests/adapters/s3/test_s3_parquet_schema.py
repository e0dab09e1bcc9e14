"""The Parquet schema is the OCSF 1.1.0 class schema: every column exists in the facts with the type the facts give it."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from s3_testkit import ocsf_facts

from adapters.s3 import parquet_schema

CLASSES = (3002, 3001)


def _ocsf_type_at(class_uid: int, path: str) -> str | None:
    """The OCSF type of ``path`` (``src_endpoint.location.city``) in a class's facts, or None when absent."""
    facts = ocsf_facts(class_uid)
    schema: dict[str, Any] = facts
    names = path.split(".")
    for i, name in enumerate(names):
        spec = schema["attributes"].get(name)
        if spec is None:
            return None
        if i == len(names) - 1:
            return str(spec["type"])
        schema = facts["objects"][spec["object_type"]]
    return None


@pytest.mark.parametrize("path", sorted(p for p in parquet_schema.leaves() if p.split(".")[0] not in parquet_schema.FREE_FORM))
def test_every_column_has_its_ocsf_type(path: str) -> None:
    """Each leaf column is an attribute of at least one class, with exactly the type the OCSF facts give it."""
    found = {c: _ocsf_type_at(c, path) for c in CLASSES}
    declared = parquet_schema.leaves()[path]
    assert any(t is not None for t in found.values()), f"{path} is in neither class"
    assert all(t in (None, declared) for t in found.values()), (path, declared, found)


def test_arrays_are_lists_where_ocsf_says_is_array() -> None:
    """observables, enrichments, coordinates and metadata.profiles are arrays in OCSF and lists in Parquet."""
    schema = parquet_schema.arrow_schema()
    assert pa.types.is_list(schema.field("observables").type) and pa.types.is_list(schema.field("enrichments").type)
    location = schema.field("src_endpoint").type.field("location").type
    assert location.field("coordinates").type == pa.list_(pa.float64())
    assert ocsf_facts(3002)["objects"]["location"]["attributes"]["coordinates"]["is_array"] is True
    assert ocsf_facts(3002)["objects"]["metadata"]["attributes"]["profiles"]["is_array"] is True


@pytest.mark.parametrize(
    ("ocsf_type", "arrow"),
    [("string_t", pa.string()), ("ip_t", pa.string()), ("email_t", pa.string()), ("integer_t", pa.int32()),
     ("long_t", pa.int64()), ("timestamp_t", pa.int64()), ("float_t", pa.float64()), ("json_t", pa.string())],
)
def test_ocsf_types_become_the_documented_arrow_types(ocsf_type: str, arrow: pa.DataType) -> None:
    """The module docstring's type table is what arrow_type does."""
    assert parquet_schema.arrow_type(ocsf_type) == arrow


def test_free_form_columns_are_ocsf_objects() -> None:
    """unmapped, whose columns are our own, is a free-form object in both classes' facts."""
    for class_uid in CLASSES:
        for name in parquet_schema.FREE_FORM:
            assert ocsf_facts(class_uid)["attributes"][name]["type"] == "object"


def test_the_required_attributes_are_columns() -> None:
    """Every attribute OCSF requires of either class (no profile) has a column."""
    for class_uid in CLASSES:
        assert set(ocsf_facts(class_uid)["required"]) <= set(parquet_schema.COLUMNS)
