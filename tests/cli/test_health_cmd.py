"""`authlog health [--ready]` run as a probe runs it: a child process, one line, the exit code (0, 1, 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from live_sidecar import REPO, LiveSidecar, free_port, write_config

from shippers.testing.scripted_http import Answer, ScriptedHTTPServer

CLI = "from shippers.cli import main; main()"
# Why: a probe that takes longer than this is broken whatever it says (the command's own timeout is 2 s).
PROBE_TIMEOUT_SECONDS = 30


def authlog(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    environment.pop("AUTHLOG_URL", None)
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=PROBE_TIMEOUT_SECONDS, check=False)


def test_a_running_sidecar_is_alive_and_ready_then_not_once_stopped(tmp_path: Path) -> None:
    """Against a real sidecar: exit 0 with one line for liveness and readiness; after SIGTERM both exit 1 naming the URL."""
    port = free_port()
    config = write_config(tmp_path, port)
    with LiveSidecar(config, port) as sidecar:
        alive = authlog("health", "-c", str(config), cwd=tmp_path)
        ready = authlog("health", "--ready", cwd=tmp_path)  # ./authlog.toml is found without -c
        sidecar.terminate()
    gone = authlog("health", "--ready", "-c", str(config), cwd=tmp_path)
    assert (alive.returncode, alive.stdout) == (0, f"alive: http://127.0.0.1:{port}\n"), alive.stderr
    assert (ready.returncode, ready.stdout) == (0, f"ready: http://127.0.0.1:{port}\n"), ready.stderr
    assert gone.returncode == 1
    assert gone.stdout == f"not ready: http://127.0.0.1:{port}: connection refused (is `authlog run` running?)\n"


def test_not_ready_prints_the_reason_the_sidecar_gives_and_exits_1(tmp_path: Path) -> None:
    """A 503 from /readyz is exit 1 with the sidecar's reason on the same line (what `kubectl describe pod` shows)."""
    body = json.dumps({"status": "not ready", "reason": "the store's disk is full: /var/lib/authlog"}).encode()
    with ScriptedHTTPServer(Answer(503, {"Content-Type": "application/json"}, body)) as server:
        result = authlog("health", "--ready", "--url", server.url, cwd=tmp_path)
        [request] = server.requests
    assert request.path == "/readyz"
    assert result.returncode == 1
    assert result.stdout == f"not ready: {server.url}/readyz answered 503: the store's disk is full: /var/lib/authlog\n"


def test_config_and_usage_errors_exit_2(tmp_path: Path) -> None:
    """Bad TOML, an unset ${VAR} in server.listen, a malformed URL and a bad option are exit 2, never 'unhealthy'."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    unset = tmp_path / "unset.toml"
    unset.write_text('[server]\nlisten = "127.0.0.1:${AUTHLOG_TEST_PORT_UNSET}"\n')
    results = {
        "toml": authlog("health", "-c", str(broken), cwd=tmp_path),
        "variable": authlog("health", "-c", str(unset), cwd=tmp_path),
        "url": authlog("health", "--url", "ftp://127.0.0.1:1", cwd=tmp_path),
        "option": authlog("health", "--timeout", "0", cwd=tmp_path),
    }
    assert {name: r.returncode for name, r in results.items()} == dict.fromkeys(results, 2)
    assert "is not valid TOML" in results["toml"].stderr
    assert "environment variable AUTHLOG_TEST_PORT_UNSET is not set" in results["variable"].stderr
    assert "--url must be http://HOST:PORT" in results["url"].stderr


def test_listen_from_the_environment_and_a_wildcard_address_are_probed_on_loopback(tmp_path: Path) -> None:
    """`listen = "0.0.0.0:${PORT}"` is probed at 127.0.0.1:PORT, as the sidecar's own container reaches it."""
    with ScriptedHTTPServer(Answer(200, {"Content-Type": "application/json"}, b'{"status": "ok"}')) as server:
        port = server.url.rsplit(":", 1)[1]
        config = tmp_path / "authlog.toml"
        config.write_text('[server]\nlisten = "0.0.0.0:${AUTHLOG_TEST_PORT}"\n')
        result = authlog("health", "-c", str(config), cwd=tmp_path, env={"AUTHLOG_TEST_PORT": port})
        [request] = server.requests
    assert (result.returncode, result.stdout) == (0, f"alive: http://127.0.0.1:{port}\n"), result.stderr
    assert request.path == "/healthz"


def test_health_and_version_import_neither_the_server_the_store_nor_an_sdk(tmp_path: Path) -> None:
    """What a probe pays for: `health` and `--version` load click and the standard library, not aiohttp, msgspec, the config or an SDK."""
    heavy = ("aiohttp", "msgspec", "rich", "boto3", "elasticsearch", "datadog_api_client", "google", "sqlite3",
             "shippers.config", "shippers.shipper", "shippers.client", "adapters")
    code = (
        "import sys\nfrom shippers.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted({{m.split('.')[0] if not m.startswith('shippers') else m for m in sys.modules}} & set({heavy!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (["health", "--url", "http://127.0.0.1:1"], ["--version"]):
        result = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False)
        assert result.stdout.splitlines()[-1] == "LOADED []", (args, result.stdout, result.stderr)


class _HungSidecar:
    """A loopback listener that accepts and then never answers, or answers one header byte at a time forever."""

    def __init__(self, *, trickle: bool) -> None:
        import socket
        import threading

        self.trickle = trickle
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> _HungSidecar:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(PROBE_TIMEOUT_SECONDS)

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            if self.trickle:
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            # Why 0.2 s: well inside the probe's 1 s timeout per read, so only a deadline for the whole answer ends it.
            while not self.stop.wait(0.2):
                if self.trickle:
                    try:
                        connection.sendall(b"a")
                    except OSError:
                        return


def test_a_hung_or_trickling_sidecar_is_not_alive_within_the_timeout(tmp_path: Path) -> None:
    """A sidecar that accepts and never answers, or drips its headers a byte at a time, exits 1 'timed out' (the timeout bounds the whole answer)."""
    for trickle in (False, True):
        with _HungSidecar(trickle=trickle) as hung:
            result = authlog("health", "--url", f"http://127.0.0.1:{hung.port}", "--timeout", "1", cwd=tmp_path)
        assert result.returncode == 1, (trickle, result.stdout, result.stderr)
        assert result.stdout == f"not alive: http://127.0.0.1:{hung.port}: no answer (timed out)\n", trickle
