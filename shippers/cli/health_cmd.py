"""``authlog health [--ready]``: one line and an exit code, for liveness and readiness probes.

Exit 0 when the sidecar answers ``/healthz`` (``--ready``: ``/readyz``) with 200, 1 when it does not
(refused, timed out, 503 with its reason), 2 for a usage or config error (the config unreadable,
``server.listen`` malformed, an unset ``${VAR}``). A probe runs this every few seconds, so it imports
only click and the standard library (``python -X importtime -c 'from shippers.cli import main'`` and
the CPU time in the README's closing note): no aiohttp, no store, no config loader, no SDK.
"""

from __future__ import annotations

import http.client
import json
import ssl
import sys
import threading
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import click

from shippers.cli.where import DEFAULT_URL, Sidecar, WhereError, from_server_table

# Exit codes (DESIGN.md): 0 ok, 2 usage or config error, 1 runtime failure.
EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_USAGE = 0, 1, 2
# Why: a probe's own timeout is usually 1-5 s (Kubernetes: timeoutSeconds, default 1 s); answering
# within it with a clear line beats being killed by it with none.
DEFAULT_TIMEOUT_SECONDS = 2.0
# Why: the reason a 503 carries is one line for a person; a longer answer is not ours.
MAX_REASON_CHARS = 300
DEFAULT_CONFIG = Path("authlog.toml")


@click.command()
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The authlog.toml whose [server] listen to probe [default: ./authlog.toml if present].")
@click.option("--url", envvar="AUTHLOG_URL", help="The sidecar's URL [env AUTHLOG_URL; default: from [server] listen].")
@click.option("--ready", is_flag=True, help="Readiness (/readyz: the store takes writes, the sinks started) instead of liveness.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT_SECONDS, show_default=True,
              help="Seconds to wait for the answer.")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CA bundle for an https sidecar [default: the config's tls_cert, then the system's].")
def health(config_path: Path | None, url: str | None, ready: bool, timeout: float, ca_file: str | None) -> None:
    """Probe the running sidecar: prints one line; exit 0 healthy (ready), 1 not, 2 usage or config error."""
    sidecar = _find(config_path, url)
    path = "/readyz" if ready else "/healthz"
    word = "ready" if ready else "alive"
    try:
        status, reason = probe(sidecar.url, path, timeout, ca_file or sidecar.ca_file)
    except ValueError as exc:
        _say(f"error: {exc}", EXIT_USAGE)
    except (OSError, http.client.HTTPException) as exc:
        _say(f"not {word}: {sidecar.url}: {_why(exc)}", EXIT_UNHEALTHY)
    if status == 200:
        _say(f"{word}: {sidecar.url}", EXIT_HEALTHY)
    _say(f"not {word}: {sidecar.url}{path} answered {status}" + (f": {reason}" if reason else ""), EXIT_UNHEALTHY)


def probe(url: str, path: str, timeout: float, ca_file: str | None) -> tuple[int, str | None]:
    """(HTTP status, the reason a JSON answer gives) of one GET, answered whole within ``timeout``; raises OSError
    when nothing answers (TimeoutError past it: a socket timeout bounds each read only, and a sidecar dripping
    its headers a byte at a time would hold the probe forever)."""
    answer: list[tuple[int, str | None]] = []
    failure: list[BaseException] = []

    def get() -> None:
        try:
            answer.append(_get(url, path, timeout, ca_file))
        except BaseException as exc:  # handed to the caller's thread as it is
            failure.append(exc)

    asking = threading.Thread(target=get, name="authlog-health", daemon=True)  # a daemon: never holds the exit
    asking.start()
    asking.join(timeout)
    if failure:
        raise failure[0]
    if not answer:
        raise TimeoutError("no answer within the timeout")
    return answer[0]


def _get(url: str, path: str, timeout: float, ca_file: str | None) -> tuple[int, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--url must be http://HOST:PORT or https://HOST:PORT, not {url!r}")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=ca_file)  # verification stays on; a self-signed sidecar: its cert
        connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", (parts.path.rstrip("/") + path), headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(64 * 1024)  # Why: /readyz answers a few hundred bytes; anything longer is not the sidecar
        return response.status, _reason(body)
    finally:
        connection.close()


def _find(config_path: Path | None, url: str | None) -> Sidecar:
    if url:
        return Sidecar(url)
    if config_path is None:
        if not DEFAULT_CONFIG.exists():
            return Sidecar(DEFAULT_URL)
        config_path = DEFAULT_CONFIG
    try:
        return from_server_table(config_path)
    except WhereError as exc:
        _say(f"error: {exc}", EXIT_USAGE)


def _reason(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    text = document.get("reason") or document.get("status")
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is `authlog run` running?)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _say(line: str, code: int) -> NoReturn:
    click.echo(line, err=code == EXIT_USAGE)
    sys.exit(code)
