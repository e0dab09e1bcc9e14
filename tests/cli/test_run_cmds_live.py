"""authlog run / send / status against a real sidecar process: exit codes, messages, and what reaches the file sink."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from live_sidecar import LiveSidecar, free_port, output_ids, write_config

from shippers.catalog import builtin_catalog
from shippers.cli.main import cli
from shippers.client import NO_RETRY, Client, ClientError

TOKEN = "tok-live-1"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_send_samples_reach_the_sink_and_status_shows_them(tmp_path: Path, runner: CliRunner) -> None:
    """`send --samples` posts every catalog type with the config's token; `status` shows the sink caught up, table and JSON."""
    port = free_port()
    config = write_config(tmp_path, port, token=TOKEN)
    with LiveSidecar(config, port, TOKEN) as sidecar:
        result = runner.invoke(cli, ["send", "-c", str(config), "--samples", "250", "--chunk", "100", "--gzip"])
        assert result.exit_code == 0, result.output
        assert "250 accepted, 0 rejected" in result.output
        sidecar.wait_caught_up("local", expected_delivered=250)
        table = runner.invoke(cli, ["status", "-c", str(config)])
        assert table.exit_code == 0, table.output
        assert "local" in table.output and "active" in table.output and f"sidecar http://127.0.0.1:{port}" in table.output
        document = json.loads(runner.invoke(cli, ["status", "-c", str(config), "--json"]).output)
        assert document["sinks"]["local"]["delivered"] == 250
    written = output_ids(tmp_path)
    assert len(written) == 250
    types = {json.loads(line)["type"] for line in (tmp_path / "var/out/events.ndjson").read_text().splitlines()}
    assert types == {t.name for t in builtin_catalog()}


def test_send_file_reports_rejected_lines_and_exits_1(tmp_path: Path, runner: CliRunner) -> None:
    """A file with bad lines: each is reported by line number, counted in metrics by reason only, and the exit code is 1."""
    port = free_port()
    config = write_config(tmp_path, port)
    events = tmp_path / "events.ndjson"
    events.write_text('{"type": "login.completed"}\n\nnot json\n{"type": "login.complete"}\n')
    with LiveSidecar(config, port) as sidecar:
        result = runner.invoke(cli, ["send", "-c", str(config), str(events)])
        with urllib.request.urlopen(f"{sidecar.url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    assert 'authlog_events_rejected_total{reason="unknown_type"} 1.0' in metrics
    assert 'authlog_events_rejected_total{reason="invalid_json"} 1.0' in metrics
    assert "login.complete\"" not in metrics  # the offending value never becomes a label
    assert result.exit_code == 1
    assert "line 3: not valid JSON" in result.output
    assert "line 4: type: unknown event type 'login.complete'; did you mean 'login.completed'?" in result.output
    assert "1 accepted, 2 rejected" in result.output


def test_send_with_a_wrong_token_exits_2(tmp_path: Path, runner: CliRunner) -> None:
    """A 401 is a configuration problem: exit 2 with the sidecar's message."""
    port = free_port()
    config = write_config(tmp_path, port, token=TOKEN)
    with LiveSidecar(config, port, TOKEN):
        result = runner.invoke(cli, ["send", "-c", str(config), "--token", "nope", "--samples", "3"])
    assert result.exit_code == 2
    assert "invalid bearer token" in result.output


def test_send_without_a_sidecar_exits_1(tmp_path: Path, runner: CliRunner) -> None:
    """With nothing listening, send exits 1 and says how to start the sidecar."""
    result = runner.invoke(
        cli, ["send", "--url", f"http://127.0.0.1:{free_port()}", "--samples", "1", "--attempts", "1"], env={"AUTHLOG_TOKEN": ""}
    )
    assert result.exit_code == 1
    assert "authlog run" in result.output


def test_send_needs_exactly_one_source(runner: CliRunner) -> None:
    """Neither FILE nor --samples (or both) is a usage error: exit 2."""
    assert runner.invoke(cli, ["send", "--url", "http://127.0.0.1:1"]).exit_code == 2


def test_sigterm_flushes_and_exits_0_then_status_reads_the_store(tmp_path: Path, runner: CliRunner) -> None:
    """SIGTERM stops the sidecar with exit 0 after flushing; `status` then falls back to reading the store."""
    port = free_port()
    config = write_config(tmp_path, port)
    sidecar = LiveSidecar(config, port).start()
    try:
        assert sidecar.client().send([{"type": "login.completed", "id": f"s-{i}"} for i in range(100)]).accepted == 100
        assert sidecar.terminate() == 0
    finally:
        sidecar.kill()
    log = sidecar.log_text()
    assert "shutting down" in log and "stopped cleanly" in log
    assert sorted(output_ids(tmp_path)) == sorted(f"s-{i}" for i in range(100))
    result = runner.invoke(cli, ["status", "-c", str(config), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sinks"]["local"]["lagEvents"] == 0
    assert "no sidecar answered" in runner.invoke(cli, ["status", "-c", str(config)]).output


def test_run_refuses_a_public_address_without_a_token(tmp_path: Path, runner: CliRunner) -> None:
    """`run` on 0.0.0.0 without a token exits 2 naming server.listen, before the store is created."""
    config = write_config(tmp_path, free_port())
    config.write_text(config.read_text().replace("127.0.0.1", "0.0.0.0"))
    result = runner.invoke(cli, ["run", "-c", str(config)])
    assert result.exit_code == 2
    assert "server.listen" in result.output and "token" in result.output
    assert not (tmp_path / "var" / "buf").exists()


def test_run_with_a_bad_config_exits_2(tmp_path: Path, runner: CliRunner) -> None:
    """An invalid config is reported key by key with exit 2."""
    config = tmp_path / "authlog.toml"
    config.write_text('[server]\nlisten = "nowhere"\n[sinks.local]\ntype = "file"\npath = "x"\n')
    result = runner.invoke(cli, ["run", "-c", str(config)])
    assert result.exit_code == 2 and "server.listen" in result.output


def test_second_sidecar_on_the_same_store_exits_1(tmp_path: Path) -> None:
    """A second `run` on a store another sidecar delivers from exits 1 with the lock error."""
    port = free_port()
    config = write_config(tmp_path, port)
    with LiveSidecar(config, port):
        other = tmp_path / "other.toml"
        other.write_text(config.read_text().replace(str(port), str(free_port())))
        result = CliRunner().invoke(cli, ["run", "-c", str(other)])
    assert result.exit_code == 1, result.output


def test_tls_sidecar_serves_https(tmp_path: Path, runner: CliRunner) -> None:
    """With tls_cert/tls_key the sidecar speaks HTTPS only, and a client that trusts the certificate can send."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    port = free_port()
    config = write_config(tmp_path, port)
    config.write_text(config.read_text().replace("[buffer]", f'tls_cert = "{cert}"\ntls_key = "{key}"\n\n[buffer]'))
    with LiveSidecar(config, port, ca_file=cert) as sidecar:
        assert sidecar.client().send([{"type": "login.completed"}]).accepted == 1
        plain = Client(f"http://127.0.0.1:{port}", retry=NO_RETRY, timeout=5)
        with pytest.raises(ClientError):
            plain.send([{"type": "login.completed"}])
        untrusted = runner.invoke(cli, ["send", "-c", str(config), "--samples", "1"])
        assert untrusted.exit_code == 1 and "certificate" in untrusted.output.lower()


def test_port_in_use_exits_1_with_the_fix(tmp_path: Path, runner: CliRunner) -> None:
    """When the listen port is taken, `run` exits 1 saying so and which key to change."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        config = write_config(tmp_path, holder.getsockname()[1])
        result = runner.invoke(cli, ["run", "-c", str(config)])
    assert result.exit_code == 1
    assert "address already in use" in result.output and "server.listen" in result.output
