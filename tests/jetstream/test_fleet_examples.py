"""examples/fleet/: the 3-node JetStream config is one nats-server accepts, and the members' config in the Kubernetes example loads."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import tomllib
from pathlib import Path

import kubernetes_validate
import yaml

from shippers.config import config_from_dict
from shippers.testing.nats_cluster import nats_server_binary

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet"
# Why: nats-server only parses the file with -t; it answers in milliseconds.
CHECK_TIMEOUT_SECONDS = 30


def test_the_jetstream_config_is_valid_for_nats_server() -> None:
    """`nats-server -c examples/fleet/nats-server.conf -t` accepts the file (as each of the three servers would run it)."""
    checked = subprocess.run([nats_server_binary(), "-c", str(FLEET / "nats-server.conf"), "-t"], capture_output=True, text=True,
                             env={**os.environ, "SERVER_NAME": "nats-1"}, timeout=CHECK_TIMEOUT_SECONDS)
    assert checked.returncode == 0 and "is valid" in checked.stdout + checked.stderr, checked.stdout + checked.stderr


def test_the_members_config_in_the_kubernetes_example_loads() -> None:
    """The ConfigMap's authlog.toml is a valid jetstream config once its ${VARS} are set."""
    yaml = (FLEET / "kubernetes.yaml").read_text("utf-8")
    block = re.search(r"authlog\.toml: \|\n((?:    .*\n)+)", yaml)
    assert block is not None
    text = textwrap.dedent(block.group(1))
    environ = {name: "example-value" for name in re.findall(r"\$\{([A-Z_]+)\}", text)}
    environ["ES_CLOUD_ID"] = "demo:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRlczEyMyRrYjQ1Ng=="  # name:base64(host$es$kibana)
    config = config_from_dict(tomllib.loads(text), environ=environ)
    assert config.buffer.kind == "jetstream" and config.buffer.replicas == 3 and len(config.buffer.servers) == 3


def test_the_kubernetes_example_is_valid_against_the_api_schema() -> None:
    """Every document of examples/fleet/kubernetes.yaml passes kubernetes-validate (strict) for the latest API version."""
    documents = [doc for doc in yaml.safe_load_all((FLEET / "kubernetes.yaml").read_text("utf-8")) if doc]
    assert {doc["kind"] for doc in documents} == {"ConfigMap", "Deployment", "Service"}
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.utils.latest_version(), strict=True)
