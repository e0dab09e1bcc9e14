"""The README and the examples tell the truth: every config key is documented with its default, every example config is valid."""

from __future__ import annotations

import base64
import re
import tomllib
from pathlib import Path

import msgspec
import pytest

from shippers.config import (
    BufferConfig,
    CatalogConfig,
    DeliveryConfig,
    EnrichConfig,
    ServerConfig,
    SinkCommon,
    config_from_dict,
)
from shippers.units import format_size

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def row_for(key: str) -> str | None:
    """The reference-table row documenting a key; rows may group keys ("`a.email`, `.ip`")."""
    parent, _, last = key.rpartition(".")
    for line in README.splitlines():
        cell = line.split("|")[1] if line.startswith("| `") else ""
        if f"`{key}`" in cell or (f"`{parent}." in cell and f"`.{last}`" in cell):
            return line
    return None


def struct_keys(prefix: str, schema: type[msgspec.Struct]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for field in msgspec.structs.fields(schema):
        nested = field.type
        if isinstance(nested, type) and issubclass(nested, msgspec.Struct):
            out += struct_keys(f"{prefix}{field.name}.", nested)
        else:
            out.append((f"{prefix}{field.name}", field.default))
    return out


ALL_KEYS = (
    struct_keys("server.", ServerConfig)
    + struct_keys("buffer.", BufferConfig)
    + struct_keys("catalog.", CatalogConfig)
    + struct_keys("enrich.", EnrichConfig)
    + struct_keys("delivery.", DeliveryConfig)
    + struct_keys("sinks.<name>.", SinkCommon)
)


@pytest.mark.parametrize(("key", "default"), ALL_KEYS, ids=[k for k, _ in ALL_KEYS])
def test_every_key_is_documented_with_its_default(key: str, default: object) -> None:
    """Each core config key has a row in the README's reference table showing the default the code uses."""
    row = row_for(key)
    assert row is not None, f"{key} is missing from the README's reference table"
    if not isinstance(default, int | float | str) or isinstance(default, bool):
        return  # lists, None and structs are described in words
    cell = row.split("|")[2]
    rendered = {str(default), f'"{default}"', f"{default:,}" if isinstance(default, int) else ""}
    if isinstance(default, int) and default >= 1024:
        rendered.add(f'"{format_size(default).replace(".0", "")}"')
    if isinstance(default, float):
        rendered.add(f'"{default:g}s"')
    assert any(r and r in cell for r in rendered), (key, default, cell)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_configs_are_valid(path: Path) -> None:
    """Every examples/*.toml passes validation once its ${VARS} are set."""
    text = path.read_text("utf-8")
    # A Cloud ID is checked for its shape (name:base64 of host$es-uuid$kibana-uuid).
    cloud_id = "demo:" + base64.b64encode(b"eu-west-1.aws.found.io$es123$kb456").decode()
    environ = {name: cloud_id if "CLOUD_ID" in name else "example-value" for name in VARIABLE.findall(text)}
    config = config_from_dict(tomllib.loads(text), base_dir=path.parent, environ=environ)
    assert config.sinks


def test_readme_has_exactly_the_two_setup_commands() -> None:
    """The README's quick start is one command for the demo and one for the tests, and CI runs the latter."""
    blocks = re.findall(r"```sh\n(.*?)```", README.split("## Using it")[0], flags=re.DOTALL)
    assert [b.strip() for b in blocks] == ["pip install -e '.[demo]' && authlog demo", "pip install -e '.[dev]' && python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "pip install --quiet --disable-pip-version-check -e '.[dev]'" in ci and "python3 -m pytest" in ci


def test_batch_defaults_table_matches_the_adapters() -> None:
    """The README's batch-defaults row of each built-in adapter shows the numbers its code uses."""
    from shippers.plugins import installed_adapters
    from shippers.units import parse_duration, parse_size

    rows = {m[0]: m[1:] for m in re.findall(r"^\| `(\w+)` \| ([\d,]+) \| ([\d.]+ [KMG]i?B) \| ([\d.]+ m?s) \|", README, flags=re.MULTILINE)}
    for name in ("file", "s3", "elasticsearch", "datadog", "cloud_logging"):
        events, size, timeout = rows[name]
        defaults = installed_adapters()[name].cls.batch_defaults
        assert int(events.replace(",", "")) == defaults.max_events, name
        assert parse_size(size.replace(" ", "")) == defaults.max_bytes, name
        assert parse_duration(timeout.replace(" ", "")) == defaults.timeout, name
