"""`[buffer] kind = "jetstream"`: its keys, their defaults, and every problem named by its key (secrets never shown)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shippers.config import config_from_dict
from shippers.errors import ConfigError

SINKS = {"local": {"type": "file", "path": "out.ndjson"}}


def load(buffer: dict, sinks: dict | None = None, environ: dict | None = None):
    return config_from_dict({"buffer": buffer, "sinks": sinks or SINKS}, base_dir=Path("/srv/app"), environ=environ or {})


def problems_of(buffer: dict, sinks: dict | None = None, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(buffer, sinks, environ)
    return caught.value.problems


def test_jetstream_defaults() -> None:
    """A jetstream buffer needs only servers: stream AUTHLOG, 3 replicas, 10GiB, 30 s ack wait; sqlite keeps 1GiB."""
    buffer = load({"kind": "jetstream", "servers": ["nats://n1:4222", "tls://n2:4222"]}).buffer
    assert (buffer.stream, buffer.replicas, buffer.max_bytes, buffer.ack_wait) == ("AUTHLOG", 3, 10 * 1024**3, 30.0)
    assert load({}).buffer.max_bytes == 1024**3


def test_every_jetstream_problem_names_its_key() -> None:
    """Bad servers, stream, replicas, sizes, mixed credentials and half a TLS pair are each reported with their key."""
    problems = problems_of({
        "kind": "jetstream", "servers": ["http://n1:4222", "nats://n2"], "stream": "a.b", "replicas": 7, "max_bytes": "1KiB",
        "ack_wait": "0s", "token": "t", "user": "u", "tls": {"cert_file": "/nowhere.pem"}, "path": "./var", "spool_max_bytes": "1KiB",
    })
    keys = {problem.split(":")[0] for problem in problems}
    assert {"buffer.servers[0]", "buffer.servers[1]", "buffer.stream", "buffer.replicas", "buffer.max_bytes", "buffer.ack_wait",
            "buffer.user", "buffer.tls.cert_file", "buffer.path", "buffer.spool_max_bytes"} <= keys, problems


def test_jetstream_requires_servers_and_sqlite_refuses_jetstream_keys() -> None:
    """No servers is an error for jetstream; a jetstream key on the embedded store is an error naming it."""
    assert any(p.startswith("buffer.servers: required") for p in problems_of({"kind": "jetstream"}))
    assert any(p.startswith("buffer.servers: only applies") for p in problems_of({"servers": ["nats://n1:4222"]}))


def test_secrets_never_appear_in_problems_or_repr() -> None:
    """A token or password (or credentials in a URL) is never quoted by a problem, and the config's repr masks it."""
    problems = problems_of({"kind": "jetstream", "servers": ["nats://bob:hunter2@n1:4222"], "token": "s3cr3t-token", "user": "bob",
                            "password": "hunter2"})
    assert problems and not any("hunter2" in p or "s3cr3t-token" in p for p in problems), problems
    buffer = load({"kind": "jetstream", "servers": ["nats://n1:4222"], "user": "bob", "password": "${PW}"}, environ={"PW": "hunter2"}).buffer
    assert buffer.password == "hunter2" and "hunter2" not in repr(buffer)


def test_credential_files_must_exist(tmp_path: Path) -> None:
    """creds_file and nkey_seed_file must be readable files; a present one loads."""
    creds = tmp_path / "user.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    assert load({"kind": "jetstream", "servers": ["nats://n1:4222"], "creds_file": str(creds)}).buffer.creds_file == str(creds)
    assert any(p.startswith("buffer.nkey_seed_file:") for p in problems_of({"kind": "jetstream", "servers": ["nats://n1:4222"],
                                                                            "nkey_seed_file": str(tmp_path / "missing.nk")}))


def test_sink_caps_keep_their_meaning_on_jetstream() -> None:
    """when_full = "drop_oldest" and max_backlog load on a jetstream buffer (the stream's backlog estimate applies them)."""
    sinks = {"local": {"type": "file", "path": "out.ndjson", "when_full": "drop_oldest", "max_backlog": "1MiB"}}
    common = load({"kind": "jetstream", "servers": ["nats://n1:4222"]}, sinks).sinks["local"].common
    assert (common.when_full, common.max_backlog) == ("drop_oldest", 1024**2)
