"""The OCSF formats' keys: service_name and security_lake required where needed, errors that name the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from s3_testkit import DATA, SECURITY_LAKE, make_adapter, minimal_event, s3_config

from adapters.s3 import keys
from adapters.s3.config import MAX_SOURCE_NAME, PARQUET_BATCH_DEFAULTS
from adapters.s3.mapping import OCSF_VERSION
from shippers.config import config_from_dict
from shippers.errors import ConfigError

LAKE = SECURITY_LAKE


def _problems(**keys: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"sinks": {"lake": {"type": "s3", "bucket": "aws-security-data-lake-x", **keys}}})
    return caught.value.problems


@pytest.mark.parametrize("format_", ["ocsf", "ocsf-parquet"])
def test_service_name_is_required_with_an_ocsf_format(format_: str) -> None:
    """Without service_name an OCSF format is a config error naming the key and what to write."""
    extra = {"security_lake": LAKE} if format_ == "ocsf-parquet" else {}
    problems = _problems(format=format_, **extra)
    assert len(problems) == 1 and problems[0].startswith("sinks.lake: service_name: required with format")
    assert 'service_name = "shop"' in problems[0]


@pytest.mark.parametrize(
    ("keys", "needle"),
    [
        ({}, 'security_lake: required with format = "ocsf-parquet"'),
        ({"security_lake": LAKE, "partition_by": ["tenant"]}, "partition_by: not used with format = \"ocsf-parquet\""),
        ({"security_lake": {**LAKE, "account_id": "12345"}}, "security_lake.account_id: '12345' is not an AWS account id"),
        ({"security_lake": {**LAKE, "region": "Frankfurt"}}, "security_lake.region: 'Frankfurt' is not an AWS Region"),
        ({"security_lake": {**LAKE, "sources": {}}}, "security_lake.sources: name the custom source"),
        ({"security_lake": {**LAKE, "sources": {"4001": "net"}}}, "security_lake.sources: '4001' is not a class"),
        ({"security_lake": {**LAKE, "sources": {"3002": "authlog_authentication"}}}, "is not a custom source name (1-20"),
        ({"security_lake": {**LAKE, "sources": {"3002": "a/b/c"}}}, "is not a custom source name"),
        ({"security_lake": {**LAKE, "colour": "red"}}, "colour"),
    ],
)
def test_security_lake_errors_name_the_key(keys: dict[str, Any], needle: str) -> None:
    """Each misconfiguration of the Parquet format is reported with the key and the fix."""
    problems = _problems(format="ocsf-parquet", service_name="shop", **keys)
    assert any(needle in p for p in problems), problems


def test_security_lake_only_with_the_parquet_format() -> None:
    """security_lake on another format is a mistake worth saying, not a silent no-op."""
    assert any("security_lake: only used with" in p for p in _problems(format="ocsf", service_name="s", security_lake=LAKE))


def test_a_source_may_carry_its_version() -> None:
    """A custom source whose location is ext/<name>/<version>/ is written as "name/version"."""
    config = s3_config(format="ocsf-parquet", security_lake={**LAKE, "sources": {"3002": "authlog_auth/2.0"}})
    assert config.security_lake is not None and config.security_lake.sources == {"3002": "authlog_auth/2.0"}


def test_the_parquet_format_waits_five_minutes_by_default() -> None:
    """Security Lake wants objects at most every 5 minutes: the sink's default timeout is 300 s, other formats keep 60 s."""
    assert PARQUET_BATCH_DEFAULTS.timeout == 300.0
    assert make_adapter(format="ocsf-parquet", security_lake=LAKE).batch_defaults is PARQUET_BATCH_DEFAULTS
    assert make_adapter(format="ocsf").batch_defaults.timeout == 60.0


def test_the_sink_follows_the_copied_security_lake_requirements() -> None:
    """The OCSF version, the 5-minute cut, the source-name limit and the partition path are the facts in tests/data/s3."""
    requirements = json.loads((DATA / "security_lake_requirements.json").read_text("utf-8"))
    assert OCSF_VERSION in requirements["ocsf_versions_accepted"]
    assert PARQUET_BATCH_DEFAULTS.timeout == requirements["min_seconds_between_objects"]
    assert MAX_SOURCE_NAME == requirements["source_name_max_chars"]
    event = minimal_event("login.completed")
    expected = requirements["partition_path"].format(source="s", region="eu-central-1", account_id="123456789012", yyyyMMdd="20261125")
    assert keys.security_lake_partition(event, "s", "eu-central-1", "123456789012") == expected


def test_without_pyarrow_the_parquet_format_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without pyarrow gets a config error saying which extra to install, not an ImportError at the first send."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    problems = _problems(format="ocsf-parquet", service_name="shop", security_lake=LAKE)
    assert any("format: ocsf-parquet needs pyarrow (pip install 'authlog-shipper[parquet]')" in p for p in problems), problems
