"""The config loader: typed values, ${VAR} interpolation, relative paths, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from shippers.config import config_from_dict, load_config
from shippers.errors import ConfigError
from shippers.units import parse_duration, parse_size


def problems_of(raw: dict, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw, base_dir=Path("/srv/app"), environ=environ or {})
    return caught.value.problems


def test_minimal_config_gets_documented_defaults() -> None:
    """A file sink alone is a complete config; everything else takes its default."""
    config = config_from_dict({"sinks": {"local": {"type": "file", "path": "out.ndjson"}}}, base_dir=Path("/srv/app"), environ={})
    assert config.server.listen == "127.0.0.1:8787"
    assert config.buffer.max_bytes == 1024**3 and config.buffer.fsync == "batch"
    sink = config.sinks["local"]
    assert sink.adapter.path == "/srv/app/out.ndjson"  # relative to the config's folder
    assert sink.common.when_full == "block" and sink.common.retry.max == 60.0


def test_sizes_durations_and_variables_are_parsed() -> None:
    """'10MiB', '500ms' and ${VAR} become numbers and values."""
    config = config_from_dict(
        {
            "server": {"token": "${TOKEN}"},
            "buffer": {"max_bytes": "10MiB"},
            "sinks": {"a": {"type": "file", "path": "/x", "batch": {"timeout": "500ms", "max_bytes": "1 MB"}}},
        },
        environ={"TOKEN": "s3cret"},
    )
    assert config.server.token == "s3cret"
    assert config.buffer.max_bytes == 10 * 1024 * 1024
    assert config.sinks["a"].common.batch.timeout == 0.5
    assert config.sinks["a"].common.batch.max_bytes == 1_000_000


def test_every_problem_is_reported_with_its_key_path() -> None:
    """A misspelled key, an unknown sink type, a missing variable and a bad value are all listed in one error."""
    problems = problems_of({
        "server": {"tokn": "x"},
        "buffer": {"max_bytes": "12 parsecs"},
        "sinks": {
            "archive": {"type": "file", "path": "/x", "bukcet": "b"},
            "search": {"type": "elastcsearch"},
            "other": {"type": "file", "path": "${MISSING_VAR}"},
        },
    })
    text = "\n".join(problems)
    assert "server.tokn: unknown key (did you mean 'token'?)" in problems
    assert "buffer.max_bytes: '12 parsecs' is not a size" in text
    assert any(p.startswith("sinks.archive.bukcet: unknown key") for p in problems)
    assert "sinks.search.type: unknown sink type 'elastcsearch' (did you mean 'elasticsearch'?)" in text
    assert "sinks.other.path: environment variable MISSING_VAR is not set" in text
    assert len(problems) == 5


def test_sink_rules() -> None:
    """Sink names, hashing without a key, wrong enum values and missing required keys are each named."""
    problems = problems_of({
        "sinks": {
            "Bad Name": {"type": "file", "path": "/x"},
            "h": {"type": "file", "path": "/x", "pii": {"email": "hash"}},
            "w": {"type": "file", "path": "/x", "when_full": "explode"},
            "r": {"type": "file"},
        }
    })
    text = "\n".join(problems)
    assert "sinks.Bad Name: sink names use only" in text
    assert "sinks.h.pii.hash_key: required" in text
    assert "sinks.w.when_full:" in text
    assert "sinks.r.path: required" in text


def test_no_sinks_and_unknown_section() -> None:
    """An empty config says a sink is needed; an unknown section is named with a suggestion."""
    problems = problems_of({"bufer": {}})
    assert "bufer: unknown section (did you mean 'buffer'?)" in problems
    assert any(p.startswith("sinks: no sink configured") for p in problems)


def test_literal_dollar_braces_escape() -> None:
    """$${VAR} writes a literal ${VAR} instead of reading the environment."""
    config = config_from_dict({"server": {"token": "$${NOT_A_VAR}"}, "sinks": {"a": {"type": "file", "path": "/x"}}}, environ={})
    assert config.server.token == "${NOT_A_VAR}"


def test_load_config_reports_missing_file_and_bad_toml(tmp_path: Path) -> None:
    """A missing file and broken TOML are ConfigErrors that name the file."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize(("text", "expected"), [("512", 512), ("1KiB", 1024), ("10MiB", 10 * 1024**2), ("1GiB", 1024**3), ("5 MB", 5_000_000), (64, 64)])
def test_parse_size(text: str | int, expected: int) -> None:
    """Sizes accept SI and IEC units and bare numbers."""
    assert parse_size(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("500ms", 0.5), ("5s", 5.0), ("2m", 120.0), ("1h", 3600.0), ("7d", 604800.0), (3, 3.0)])
def test_parse_duration(text: str | int, expected: float) -> None:
    """Durations accept ms, s, m, h, d and bare seconds."""
    assert parse_duration(text) == expected
