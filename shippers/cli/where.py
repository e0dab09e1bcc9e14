"""Where the running sidecar is, from ``--url`` or a config's ``[server]`` table, without loading the whole config.

``authlog status`` has a full :class:`~shippers.config.Config` at hand; ``authlog health`` (a probe, run
every few seconds) and ``authlog top`` read only ``[server] listen`` and ``tls_cert`` from the TOML: the
full loader imports every adapter's config to check the sinks, which a probe must not pay for.
Only the standard library is imported here.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from shippers.listen import local_url

DEFAULT_LISTEN = "127.0.0.1:8787"  # ServerConfig.listen's default (shippers.config)
DEFAULT_URL = local_url(DEFAULT_LISTEN, tls=False)
# ${VAR} is read from the environment, $${VAR} is a literal ${VAR} (the config loader's rule).
_VARIABLE = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class WhereError(Exception):
    """The config cannot say where the sidecar is (unreadable file, bad TOML, unset variable): exit 2."""


@dataclass(frozen=True, slots=True)
class Sidecar:
    """The sidecar's base URL and, for https, the certificate a local client should trust."""

    url: str
    ca_file: str | None = None


def from_server_table(path: Path, environ: dict[str, str] | None = None) -> Sidecar:
    """The sidecar of the config at ``path``, read from its ``[server]`` table alone."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WhereError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WhereError(f"{path} is not valid TOML: {exc}") from None
    server = raw.get("server", {})
    if not isinstance(server, dict):
        raise WhereError(f"{path}: [server] must be a table")
    env = os.environ if environ is None else environ
    listen = _expand(str(server.get("listen", DEFAULT_LISTEN)), "server.listen", env, path)
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise WhereError(f"{path}: server.listen: '{listen}' must be HOST:PORT, e.g. '127.0.0.1:8787'")
    cert = server.get("tls_cert")
    ca_file = None
    if cert:
        # A self-signed sidecar: the client beside it trusts the certificate it serves (relative to the config).
        ca_file = str(path.resolve().parent / Path(_expand(str(cert), "server.tls_cert", env, path)).expanduser())
    return Sidecar(local_url(listen, tls=bool(cert)), ca_file)


def _expand(value: str, key: str, environ: os._Environ[str] | dict[str, str], path: Path) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        name = match.group(2)
        if name not in environ:
            raise WhereError(f"{path}: {key}: environment variable {name} is not set")
        return environ[name]

    return _VARIABLE.sub(substitute, value)
