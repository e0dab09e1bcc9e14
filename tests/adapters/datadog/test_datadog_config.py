"""The Datadog sink's config keys: defaults, validation through the real loader, URL choice, and the key kept secret."""

from __future__ import annotations

import pytest
from datadog_testkit import KEY, make_adapter

from adapters.datadog.config import (
    DEFAULT_BATCH_BYTES,
    DatadogConfig,
    intake_url,
)
from shippers.config import config_from_dict
from shippers.errors import ConfigError


def load(**keys: object) -> DatadogConfig:
    """The adapter config of one datadog sink, through the project's config loader."""
    config = config_from_dict({"sinks": {"dd": {"type": "datadog", **keys}}}, environ={})
    return config.sinks["dd"].adapter


def test_defaults() -> None:
    """An empty table takes the documented defaults (source and service 'authlog', site datadoghq.com)."""
    config = load()
    assert (config.api_key, config.site, config.endpoint) == (None, "datadoghq.com", None)
    assert (config.service, config.source, config.hostname, config.env) == ("authlog", "authlog", None, None)
    assert (config.tags, config.status_by_type, config.request_timeout) == ([], {}, 30.0)


def test_batch_defaults_and_hard_limits() -> None:
    """The adapter batches 1000 logs / 4.25 MB / 5 s by default, within the intake's hard limits."""
    adapter = make_adapter()
    assert (adapter.batch_defaults.max_events, adapter.batch_defaults.max_bytes, adapter.batch_defaults.timeout) == (
        1000, DEFAULT_BATCH_BYTES, 5.0,
    )
    assert DEFAULT_BATCH_BYTES == 4_250_000 <= adapter.hard_limits.max_bytes


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({}, "https://http-intake.logs.datadoghq.com"),
        ({"site": "datadoghq.eu"}, "https://http-intake.logs.datadoghq.eu"),
        ({"site": "us5.datadoghq.com"}, "https://http-intake.logs.us5.datadoghq.com"),
        ({"site": "datadoghq.eu", "endpoint": "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000"),
    ],
)
def test_intake_url(keys: dict[str, str], expected: str) -> None:
    """site picks the regional intake host; endpoint overrides it."""
    assert intake_url(load(**keys)) == expected


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"site": "https://datadoghq.eu"}, "site"),
        ({"endpoint": "127.0.0.1:9000"}, "endpoint"),
        ({"tags": ["team:a,b"]}, "tags[0]"),
        ({"status_by_type": {"user.locked": "fatal"}}, "status_by_type"),
        ({"api_key": "  "}, "api_key"),
        ({"servce": "x"}, "did you mean 'service'"),
        ({"request_timeout": "0s"}, "request_timeout"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(keys: dict[str, object], words: str) -> None:
    """Impossible values and typos fail the config load with a message naming the key."""
    with pytest.raises(ConfigError) as caught:
        load(**keys)
    assert words in str(caught.value)


def test_unknown_type_in_status_by_type_fails_at_construction() -> None:
    """A misspelt type in status_by_type is an error with a suggestion, not a silently ignored override."""
    with pytest.raises(ConfigError) as caught:
        make_adapter(status_by_type={"user.lockd": "error"})
    assert "sinks.dd.status_by_type.user.lockd" in str(caught.value) and "user.locked" in str(caught.value)


def test_api_key_never_shows_in_reprs() -> None:
    """repr(), str() and rich's pretty-printer of the config hide the key."""
    from rich.pretty import pretty_repr

    config = load(api_key=KEY)
    assert config.api_key == KEY
    for text in (repr(config), str(config), pretty_repr(config), repr(make_adapter().config)):
        assert KEY not in text and "***" in text


def test_api_key_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without api_key the adapter reads DD_API_KEY; with neither it reports a sink error instead of crashing."""
    monkeypatch.setenv("DD_API_KEY", KEY)
    assert make_adapter(api_key=None).open() is None
    monkeypatch.delenv("DD_API_KEY")
    verdict = make_adapter(api_key=None).open()
    assert verdict is not None and verdict.kind == "sink_error" and "DD_API_KEY" in verdict.reason


def test_api_key_read_from_a_file_loses_its_surrounding_whitespace() -> None:
    """A key with a trailing newline (a Kubernetes secret mounted from a file) is trimmed, directly or via ${DD_API_KEY}."""
    assert load(api_key=f"  {KEY}\n").api_key == KEY
    config = config_from_dict({"sinks": {"dd": {"type": "datadog", "api_key": "${DD_API_KEY}"}}}, environ={"DD_API_KEY": KEY + "\r\n"})
    assert config.sinks["dd"].adapter.api_key == KEY


@pytest.mark.parametrize("bad", ["SECRETKEY\n123", "SECRETKEY\x00123", "SECRETKEY\x7f123", "SECRETKEY\t123"])
def test_api_key_with_a_control_character_is_a_config_error_that_hides_it(bad: str) -> None:
    """A control character inside the key fails the config load with a message naming api_key but never quoting the key."""
    with pytest.raises(ConfigError) as caught:
        load(api_key=bad)
    assert "api_key" in str(caught.value) and "control character" in str(caught.value)
    assert "SECRETKEY" not in str(caught.value) and "SECRETKEY" not in repr(caught.value)


def test_api_key_interpolated_from_environment() -> None:
    """api_key = "${DD_API_KEY}" is filled by the loader from the environment."""
    config = config_from_dict({"sinks": {"dd": {"type": "datadog", "api_key": "${DD_API_KEY}"}}}, environ={"DD_API_KEY": KEY})
    assert config.sinks["dd"].adapter.api_key == KEY


def test_example_config_loads_and_builds_an_adapter() -> None:
    """examples/datadog.toml is a valid config whose status_by_type names real catalog types."""
    from pathlib import Path

    from adapters.contract import SinkContext
    from adapters.datadog import DatadogAdapter
    from shippers.catalog import builtin_catalog
    from shippers.config import load_config

    example = Path(__file__).parents[3] / "examples" / "datadog.toml"
    config = load_config(example, environ={"AUTHLOG_TOKEN": "t", "DD_API_KEY": KEY})
    sink = config.sinks["datadog"]
    adapter = DatadogAdapter(SinkContext("datadog", builtin_catalog(), lambda: 0.0), sink.adapter)
    assert adapter.intake == "https://http-intake.logs.datadoghq.com" and sink.adapter.api_key == KEY
    assert adapter.settings.status_by_type["user.locked"] == "error"
