"""AUTHLOG / AUTHLOG_INTEGRATION are read with every problem named by its key, and the event map follows the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from contrib_support import EXTRA_CATALOG, file_authlog

from shippers.catalog import load_catalog
from shippers.contrib.moments import build_event_map
from shippers.contrib.settings import catalog_only, parse_integration, shipper_config
from shippers.errors import ConfigError


def test_defaults_and_values_are_read(tmp_path: Path) -> None:
    """Durations, sizes and a relative spool path are read as values; the spool path resolves against the base folder."""
    settings, problems = parse_integration(
        {"mode": "sidecar", "budget": "20ms", "on_slow": "drop", "spool_path": "spool.db", "spool_max_bytes": "2MiB"}, tmp_path)
    assert problems == []
    assert (settings.mode, settings.budget, settings.on_slow) == ("sidecar", 0.02, "drop")
    assert settings.spool_path == tmp_path / "spool.db"
    assert settings.spool_max_bytes == 2 * 1024 * 1024


def test_every_problem_is_named_by_its_key(tmp_path: Path) -> None:
    """A bad value or an unknown key is one problem each, starting with its key path, with a hint."""
    _, problems = parse_integration(
        {"mode": "cloud", "budgett": "1s", "budget": "forever", "on_slow": "wait", "sidecar_url": "ftp://x",
         "spool_max_bytes": "1KiB", "failed_login_lookup": "yes", "events": ["logout"]}, tmp_path)
    text = "\n".join(problems)
    assert len(problems) == 8, text
    for key in ("mode", "budgett", "budget", "on_slow", "sidecar_url", "spool_max_bytes", "failed_login_lookup", "events"):
        assert f"AUTHLOG_INTEGRATION.{key}:" in text
    assert "did you mean 'budget'?" in text


def test_a_budget_must_be_a_budget(tmp_path: Path) -> None:
    """A zero budget or one of minutes is refused: the login would hang on a stopped sidecar."""
    for value in ("0ms", "10s"):
        _, problems = parse_integration({"budget": value}, tmp_path)
        assert problems and problems[0].startswith("AUTHLOG_INTEGRATION.budget:")


def test_authlog_dict_problems_are_prefixed(tmp_path: Path) -> None:
    """AUTHLOG's own problems come from the shipper's config loader, each prefixed with AUTHLOG."""
    with pytest.raises(ConfigError) as caught:
        shipper_config({"buffer": {"pth": "x"}, "sinks": {}}, tmp_path)
    assert any(p.startswith("AUTHLOG.buffer.pth: unknown key") for p in caught.value.problems)


def test_authlog_config_names_a_file_and_goes_alone(tmp_path: Path) -> None:
    """{'config': PATH} loads that file; keys beside it are refused, and a missing file is named."""
    toml = tmp_path / "authlog.toml"
    toml.write_text('[sinks.local]\ntype = "file"\npath = "out.ndjson"\n')
    assert shipper_config({"config": str(toml)}, tmp_path).sinks["local"].adapter.path == str(tmp_path / "out.ndjson")
    with pytest.raises(ConfigError, match="goes alone"):
        shipper_config({"config": str(toml), "buffer": {}}, tmp_path)
    with pytest.raises(ConfigError, match=r"AUTHLOG\['config'\]: .*no such config file"):
        shipper_config({"config": str(tmp_path / "missing.toml")}, tmp_path)


def test_sidecar_mode_reads_only_the_catalog(tmp_path: Path) -> None:
    """In sidecar mode AUTHLOG's [catalog] extra is read (a file or a dict) and its sinks are not required."""
    assert "session.logout" in catalog_only({"catalog": {"extra": str(EXTRA_CATALOG)}}, tmp_path)
    toml = tmp_path / "authlog.toml"
    toml.write_text(f'[catalog]\nextra = "{EXTRA_CATALOG}"\n')
    assert "session.logout" in catalog_only({"config": str(toml)}, tmp_path)
    assert "session.logout" not in catalog_only(None, tmp_path)


def test_event_map_checks_types_against_the_catalog(tmp_path: Path) -> None:
    """A type the catalog lacks is a problem with a hint; a moment can be turned off; dotted paths are targets."""
    catalog = load_catalog(EXTRA_CATALOG)
    event_map, problems = build_event_map(
        {"login": "login.complete", "password_reset_failed": None, "myapp.signals.verified": "email_verification.completed",
         "logut": "session.logout"}, catalog, "AUTHLOG_INTEGRATION")
    text = "\n".join(problems)
    assert "AUTHLOG_INTEGRATION.events.login: 'login.complete' is not in the catalog (did you mean 'login.completed'?)" in text
    assert "AUTHLOG_INTEGRATION.events.logut: unknown moment (did you mean 'logout'?)" in text
    assert event_map.type_for("password_reset_failed") is None
    assert event_map.targets == {"myapp.signals.verified": "email_verification.completed"}


def test_logout_is_never_invented(tmp_path: Path) -> None:
    """Logout has no built-in type: unmapped it is not shipped, and a built-in type is refused for it."""
    catalog = load_catalog(EXTRA_CATALOG)
    event_map, problems = build_event_map({}, catalog, "X")
    assert event_map.type_for("logout") is None and problems == []
    _, problems = build_event_map({"logout": "login.completed"}, catalog, "X")
    assert problems and "only to a type of your [catalog] extra" in problems[0]
    event_map, problems = build_event_map({"logout": "session.logout"}, catalog, "X")
    assert problems == [] and event_map.type_for("logout") == "session.logout"


def test_file_authlog_is_a_valid_config(tmp_path: Path) -> None:
    """The tests' own AUTHLOG is what an app writes: it loads as is."""
    assert shipper_config(file_authlog(tmp_path), tmp_path).sinks["archive"].common.type == "file"
