"""The deploy recipes are right: Kubernetes manifests valid against the API schema, one store per pod, `authlog health` probes; the systemd unit verified and sandboxed."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shippers.config import config_from_dict

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "examples" / "kubernetes"
UNIT = ROOT / "examples" / "systemd" / "authlog.service"
# Why 1.29: native sidecars (initContainers with restartPolicy: Always) are on by default from 1.29; the
# schema of the newest version kubernetes-validate ships is checked too.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
# Why 2.0: `systemd-analyze security` rates 0 (locked down) to 10 (exposed); below 2 is its "OK" band.
MAX_EXPOSURE = 2.0
WORKLOADS = ("deployment.yaml", "statefulset.yaml")


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBERNETES / name).read_text()) if doc]


def sidecar_of(workload: dict[str, Any]) -> dict[str, Any]:
    [sidecar] = [c for c in workload["spec"]["template"]["spec"].get("initContainers", []) if c["name"] == "authlog"]
    return sidecar


def workload_of(name: str) -> dict[str, Any]:
    [workload] = [d for d in documents(name) if d["kind"] in ("Deployment", "StatefulSet")]
    return workload


def shipped_config() -> dict[str, Any]:
    [configmap] = documents("configmap.yaml")
    return tomllib.loads(configmap["data"]["authlog.toml"])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", ["configmap.yaml", *WORKLOADS])
def test_every_manifest_is_valid_against_the_kubernetes_api_schema(name: str, version: str) -> None:
    """kubernetes-validate in strict mode (unknown fields are errors) accepts every document, offline."""
    for document in documents(name):
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_sidecar_is_native_and_probed_with_authlog_health(name: str) -> None:
    """authlog is an init container with restartPolicy Always; startup and readiness run `health --ready`, liveness `health`, on the config mounted."""
    sidecar = sidecar_of(workload_of(name))
    assert sidecar["restartPolicy"] == "Always"
    config_path = next(m["mountPath"] for m in sidecar["volumeMounts"] if m["name"] == "config") + "/authlog.toml"
    assert sidecar["command"] + sidecar["args"] == ["authlog", "run", "-c", config_path]
    for probe, ready in (("startupProbe", True), ("readinessProbe", True), ("livenessProbe", False)):
        expected = ["authlog", "health", *(["--ready"] if ready else []), "-c", config_path]
        assert sidecar[probe]["exec"]["command"] == expected, probe
        assert sidecar[probe]["timeoutSeconds"] >= 2  # the command answers within its own 2 s timeout


@pytest.mark.parametrize("name", WORKLOADS)
def test_each_pod_has_its_own_store(name: str) -> None:
    """The buffer is an emptyDir or a per-pod claim template, never one claim named in the pod template (two replicas cannot share it)."""
    workload = workload_of(name)
    pod = workload["spec"]["template"]["spec"]
    buffer_path = shipped_config()["buffer"]["path"]
    [mount] = [m for m in sidecar_of(workload)["volumeMounts"] if m["mountPath"] == buffer_path]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    assert not any("persistentVolumeClaim" in v for v in volumes.values()), "a claim shared by every replica"
    templates = {t["metadata"]["name"]: t for t in workload["spec"].get("volumeClaimTemplates", [])}
    if workload["kind"] == "Deployment":
        assert "emptyDir" in volumes[mount["name"]]
    else:
        assert mount["name"] in templates and mount["name"] not in volumes
        assert templates[mount["name"]]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_shipped_config_is_valid_and_listens_where_the_app_posts() -> None:
    """configmap.yaml's authlog.toml loads without a problem (secrets from the environment) and the app's AUTHLOG_URL reaches its listen address."""
    raw = shipped_config()
    config_from_dict(raw, environ={"ES_CLOUD_ID": "dep:ZXhhbXBsZS5jb20kYWJjJGRlZg==", "ES_API_KEY": "k"})
    for name in WORKLOADS:
        [app] = workload_of(name)["spec"]["template"]["spec"]["containers"]
        url = next(e["value"] for e in app["env"] if e["name"] == "AUTHLOG_URL")
        assert url == f"http://{raw['server']['listen']}"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, comment_prefixes=("#",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_systemd_unit_is_sandboxed_around_its_state_directory() -> None:
    """DynamicUser, ProtectSystem=strict and StateDirectory=authlog, the store where StateDirectory puts it, exit 2 not restarted."""
    service = unit()["Service"]
    assert service["DynamicUser"] == "yes" and service["ProtectSystem"] == "strict" and service["StateDirectory"] == "authlog"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectHome"] == "yes" and service["PrivateTmp"] == "yes"
    assert service["RestartPreventExitStatus"] == "2"  # a config error: restarting cannot fix it
    assert 'path = "/var/lib/authlog"' in UNIT.read_text()  # the install note puts the store in the StateDirectory
    assert shlex.split(service["ExecStart"])[1:] == ["run", "-c", "/etc/authlog/authlog.toml"]


def _unit_with_this_authlog(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this machine's authlog (verify checks that the program exists)."""
    program = shutil.which("authlog") or str(Path(sys.executable).with_name("authlog"))
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={program}", UNIT.read_text(), flags=re.MULTILINE)
    copy = tmp_path / "authlog.service"
    copy.write_text(text)
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit_without_a_word_and_rates_it_ok(tmp_path: Path) -> None:
    """`systemd-analyze verify` prints nothing (an unknown key is a warning there) and `security --offline` rates exposure below 2."""
    copy = _unit_with_this_authlog(tmp_path)
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0"}
    verify = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(copy)], capture_output=True, text=True,
                              env=env, timeout=60, check=False)
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout + security.stderr)
    assert exposure is not None, security.stdout + security.stderr
    assert float(exposure.group(1)) < MAX_EXPOSURE
