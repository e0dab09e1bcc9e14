"""The core runs without any destination SDK, a sink whose SDK is missing is a config error naming its extra, and the extras pull what they must."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from live_sidecar import REPO, LiveSidecar, free_port, output_ids, write_config

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# Each destination: its sink type, the extra that installs its SDK, the modules hidden to play "not installed".
DESTINATIONS = {
    "s3": ("s3", ("boto3", "botocore"), 'bucket = "b"\nregion = "eu-west-1"\n'),
    "elasticsearch": ("elasticsearch", ("elasticsearch", "elastic_transport"), 'hosts = ["http://127.0.0.1:9200"]\n'),
    "datadog": ("datadog", ("datadog_api_client",), 'api_key = "k"\n'),
    "cloud_logging": ("cloud-logging", ("google",), 'project_id = "p"\n'),
}
SDK_PROJECTS = {"boto3", "elasticsearch", "datadog-api-client", "google-cloud-logging"}
EVERY_SDK_MODULE = tuple(m for _, modules, _ in DESTINATIONS.values() for m in modules)


def hiding(modules: tuple[str, ...]) -> str:
    """Python code that makes ``modules`` unimportable (as if not installed), then runs the CLI."""
    return (f"import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n"
            "from shippers.cli import main\nmain()\n")


def authlog_without(modules: tuple[str, ...], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", hiding(modules), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


class SidecarWithoutSdks(LiveSidecar):
    """`authlog run` in a process where no destination SDK can be imported."""

    program = hiding(EVERY_SDK_MODULE)


@pytest.mark.parametrize("sink_type", sorted(DESTINATIONS))
def test_a_sink_whose_sdk_is_missing_is_a_config_error_naming_the_extra(tmp_path: Path, sink_type: str) -> None:
    """check-config with the SDK hidden: exit 2, the sink's key path, the missing package and `pip install 'authlog-shipper[extra]'`."""
    extra, modules, keys = DESTINATIONS[sink_type]
    config = tmp_path / "authlog.toml"
    config.write_text(f'[buffer]\npath = "./buf"\n[sinks.target]\ntype = "{sink_type}"\n{keys}')
    result = authlog_without(modules, "check-config", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    problem = " ".join(result.stderr.split())
    assert f"sinks.target.type: the '{sink_type}' adapter cannot load: the '{sink_type}' sink needs the Python package" in problem
    assert f"pip install 'authlog-shipper[{extra}]'" in problem
    assert "Traceback" not in result.stderr


def test_the_core_and_the_file_sink_run_with_no_sdk_installed(tmp_path: Path) -> None:
    """With every SDK hidden, `authlog run` starts, accepts events over HTTP and the file sink writes them all."""
    port = free_port()
    config = write_config(tmp_path, port)
    with SidecarWithoutSdks(config, port) as sidecar:
        result = sidecar.client().send_lines([b'{"id": "lean-%d", "type": "login.completed"}' % i for i in range(20)])
        assert result.accepted == 20
        sidecar.wait_caught_up("local", expected_delivered=20)
    assert sorted(output_ids(tmp_path)) == sorted(f"lean-{i}" for i in range(20))


def resolved_extra(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The project names an extra pulls, following `authlog-shipper[...]` self-references."""
    projects: set[str] = set()
    for requirement in PYPROJECT["project"]["optional-dependencies"][name]:
        project = requirement.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip()
        if project == PYPROJECT["project"]["name"]:
            for inner in requirement.split("[", 1)[1].split("]")[0].split(","):
                if inner not in seen:
                    projects |= resolved_extra(inner.strip(), seen | {name})
        else:
            projects.add(project)
    return projects


def test_the_core_requires_no_sdk_and_each_extra_pulls_its_own() -> None:
    """No SDK among the core dependencies; [s3]/[elasticsearch]/[datadog]/[cloud-logging] one each; [all], [demo] and [dev] every one."""
    core = {r.split(">")[0].split("<")[0].split("=")[0].strip() for r in PYPROJECT["project"]["dependencies"]}
    assert core & SDK_PROJECTS == set()
    assert resolved_extra("s3") == {"boto3"}
    assert resolved_extra("elasticsearch") == {"elasticsearch"}
    assert resolved_extra("datadog") == {"datadog-api-client"}
    assert resolved_extra("cloud-logging") == {"google-cloud-logging"}
    for extra in ("all", "demo", "dev"):  # the README's `pip install -e '.[demo]'` and `'.[dev]'` keep working
        assert resolved_extra(extra) >= SDK_PROJECTS, extra
    readme = (REPO / "README.md").read_text()
    assert "pip install -e '.[demo]' && authlog demo" in readme
    assert "pip install -e '.[dev]' && python -m pytest" in readme
