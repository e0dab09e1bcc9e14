"""Adapter plugins: the test doubles (memory, chaos) are never production plugins, only an explicit opt-in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from shippers import plugins
from shippers.config import config_from_dict
from shippers.errors import ConfigError
from shippers.testing import register_test_adapters, unregister_test_adapters

REPO = Path(__file__).resolve().parents[1]
# Why: a fresh interpreter importing the CLI and its SDKs takes a few seconds on a busy machine.
CHILD_TIMEOUT_SECONDS = 120
CHAOS_CONFIG = '[buffer]\npath = "./buf"\n\n[sinks.flaky]\ntype = "chaos"\n'


def run_child(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A fresh Python (this tree first on the path, nothing opted in) running ``args``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "500"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS
    )


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def production() -> Iterator[None]:
    """This process as production sees it: the suite's opt-in undone for one test, then restored."""
    unregister_test_adapters()
    yield
    register_test_adapters()


def test_check_config_in_a_fresh_process_calls_chaos_unknown_and_says_how_to_opt_in(tmp_path: Path) -> None:
    """Without an opt-in, `authlog check-config` rejects type = "chaos" (exit 2) naming the opt-in, and `authlog adapters` lists neither double."""
    (tmp_path / "authlog.toml").write_text(CHAOS_CONFIG)
    cli = ("-c", "from shippers.cli import main; main()")
    checked = run_child(*cli, "check-config", "-c", "authlog.toml", cwd=tmp_path)
    said = flat(checked.stdout + checked.stderr)
    assert checked.returncode == 2, said
    assert "sinks.flaky.type: unknown sink type 'chaos'" in said
    assert "shippers.testing.register_test_adapters()" in said and "-p shippers.testing.pytest_plugin" in said
    listed = run_child(*cli, "adapters", cwd=tmp_path)
    assert listed.returncode == 0 and "cloud_logging" in listed.stdout
    assert "memory" not in listed.stdout and "chaos" not in listed.stdout


def test_register_test_adapters_opts_this_process_in(production: None) -> None:
    """Unknown until register_test_adapters() is called, then both sink types load; unregistering takes them away again."""
    raw = {"sinks": {"m": {"type": "memory"}, "c": {"type": "chaos", "max_request_events": 3}}}
    with pytest.raises(ConfigError) as refused:
        config_from_dict(raw)
    assert any("unknown sink type 'memory'" in p and "register_test_adapters()" in p for p in refused.value.problems)
    assert any("unknown sink type 'chaos'" in p for p in refused.value.problems)
    assert register_test_adapters() == ["memory", "chaos"]
    config = config_from_dict(raw)
    assert {name: sink.common.type for name, sink in config.sinks.items()} == {"m": "memory", "c": "chaos"}
    assert plugins.installed_adapters()["chaos"].origin.startswith("shippers.testing")
    unregister_test_adapters()
    assert "memory" not in plugins.installed_adapters()


def test_an_entry_point_naming_a_test_double_is_ignored(production: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An authlog.adapters entry point into shippers.testing (stale metadata of an older install) never registers it."""
    from importlib.metadata import EntryPoint

    points = [
        EntryPoint("chaos", "shippers.testing.chaos:ChaosAdapter", plugins.ENTRY_POINT_GROUP),
        EntryPoint("file", "adapters.file:FileAdapter", plugins.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: points)
    plugins._points.cache_clear()
    try:
        assert sorted(plugins.installed_adapters()) == ["file"]
        assert plugins.broken_adapters() == {}
        assert plugins.adapter_info("chaos") is None
    finally:
        plugins._points.cache_clear()


_USER_TEST = '''
    from shippers.config import config_from_dict
    from shippers.shipper import Shipper


    def test_a_memory_sink_loads():
        assert config_from_dict({"sinks": {"m": {"type": "memory"}}}).sinks["m"].common.type == "memory"


    def test_a_chaos_sink_retries(authlog_test_sinks, tmp_path):
        authlog_test_sinks.chaos.script("s").fail(times=1)
        config = {"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"s": {"type": "chaos", "retry": {"initial": "1ms", "max": "2ms"}}}}
        shipper = Shipper.from_config(config).start()
        try:
            shipper.emit("login.completed", id="e-1")
            assert shipper.flush(30)
        finally:
            shipper.close(5)
        assert [e.id for e in authlog_test_sinks.chaos.delivered["s"]] == ["e-1"]
'''


def test_the_pytest_plugin_opts_a_users_session_in_only_when_asked(tmp_path: Path) -> None:
    """A user's test with a chaos sink passes under `pytest -p shippers.testing.pytest_plugin` and fails without it (nothing auto-loads)."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(_USER_TEST))
    pytest_args = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py")
    opted_in = run_child(*pytest_args[:2], "-p", "shippers.testing.pytest_plugin", *pytest_args[2:], cwd=tmp_path)
    assert opted_in.returncode == 0, opted_in.stdout + opted_in.stderr
    not_opted_in = run_child(*pytest_args, cwd=tmp_path)
    assert not_opted_in.returncode != 0
    assert "fixture 'authlog_test_sinks' not found" in not_opted_in.stdout
    assert "unknown sink type 'memory'" in not_opted_in.stdout


def test_a_config_imports_only_the_adapters_it_names(tmp_path: Path) -> None:
    """Loading a config with one file sink imports no SDK of another destination (each costs tens of MiB per process)."""
    code = (
        "import sys; from shippers.config import config_from_dict; "
        f"config_from_dict({{'buffer': {{'path': {str(tmp_path / 'b')!r}}}, 'sinks': {{'f': {{'type': 'file', 'path': {str(tmp_path / 'o')!r}}}}}}}); "
        "print(sorted(m for m in ('boto3', 'elasticsearch', 'google.cloud.logging', 'datadog_api_client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
