"""The ``[buffer]`` section: its struct and its checks per kind, the embedded store's keys or a JetStream fleet's.

``kind = "sqlite"`` takes ``path``, ``max_bytes``, ``fsync``, ``emit_timeout``; ``kind =
"jetstream"`` takes ``servers``, ``stream``, ``replicas``, ``max_bytes``, ``ack_wait``,
``emit_timeout``, ``spool`` and ``spool_max_bytes``, one kind of credential (``creds_file`` |
``nkey_seed_file`` | ``token`` | ``user`` + ``password``) and ``[buffer.tls]``. A key of the other
kind is an error naming it. Messages never quote a secret's value. ``shippers.config`` loads it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from shippers.config_types import ByteSize, Duration, FilePath, Secret

# Why: the embedded store's default (DESIGN.md); a JetStream stream is shared by a fleet and sized for it
# (issue 12: 10GiB unless told otherwise).
DEFAULT_MAX_BYTES = {"sqlite": 1024**3, "jetstream": 10 * 1024**3}
SQLITE_ONLY = ("path", "fsync")
JETSTREAM_ONLY = ("servers", "stream", "replicas", "ack_wait", "creds_file", "nkey_seed_file", "token", "user", "password", "tls", "spool",
                  "spool_max_bytes")
# Why: a stream name is a subject token (authlog.<stream>.>) and a folder on every server: no dots,
# wildcards, spaces or separators; JetStream advises names short enough for file systems.
STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Why: JetStream replicates a stream on at most 5 servers.
MAX_REPLICAS = 5
URL_SCHEMES = ("nats", "tls")


class TlsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """TLS to the JetStream servers (verification is always on; ca_file adds a private CA)."""

    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None


class BufferConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``kind = "sqlite"``: the embedded store (path, fsync); ``"jetstream"``: a fleet's shared stream (shippers.config_buffer)."""

    kind: Literal["sqlite", "jetstream"] = "sqlite"
    path: FilePath = FilePath("./var/authlog")
    # None: the kind's default (DEFAULT_MAX_BYTES), filled in when the config is loaded.
    max_bytes: ByteSize | None = None
    fsync: Literal["batch", "always"] = "batch"
    # Why: an app's emit() waits this long for room before raising BufferFullError (DESIGN.md).
    emit_timeout: Duration = Duration(1.0)
    # -- kind = "jetstream" (shippers.config_buffer checks them) --
    servers: list[str] = msgspec.field(default_factory=list)
    stream: str = "AUTHLOG"
    replicas: int = 3
    # Why: a member that died holds its unacknowledged messages this long before the consumer gives them
    # to another member; 30 s is JetStream's default ack wait (a member renews it while a batch is in flight).
    ack_wait: Duration = Duration(30.0)
    creds_file: FilePath | None = None
    nkey_seed_file: FilePath | None = None
    token: Secret | None = None
    user: str | None = None
    password: Secret | None = None
    tls: TlsConfig = msgspec.field(default_factory=TlsConfig)
    spool: FilePath | None = None  # a local store that takes events while the cluster does not answer (opt-in)
    # Why: the spool is one member's disk, not the fleet's: the embedded store's default cap.
    spool_max_bytes: ByteSize = ByteSize(1024**3)


def max_bytes_of(buffer: BufferConfig) -> int:
    """The buffer's cap: as configured, else its kind's default (a BufferConfig built in code may leave it out)."""
    return int(buffer.max_bytes) if buffer.max_bytes is not None else DEFAULT_MAX_BYTES[buffer.kind]


def check_buffer(buffer: BufferConfig, given: set[str], problems: list[str]) -> None:
    """Append a problem (naming its key) for every key that does not fit the buffer's kind or value."""
    other = JETSTREAM_ONLY if buffer.kind == "sqlite" else SQLITE_ONLY
    for key in sorted(given.intersection(other)):
        problems.append(f'buffer.{key}: only applies to kind = "{"jetstream" if buffer.kind == "sqlite" else "sqlite"}" '
                        f'(this buffer is kind = "{buffer.kind}"); remove it')
    if buffer.kind == "jetstream":
        _check_jetstream(buffer, given, problems)


def _check_jetstream(buffer: BufferConfig, given: set[str], problems: list[str]) -> None:
    if not buffer.servers:
        problems.append('buffer.servers: required for kind = "jetstream", e.g. ["nats://nats-1:4222", "nats://nats-2:4222"]')
    for index, url in enumerate(buffer.servers):
        parts = urlsplit(url)
        try:
            port_ok = parts.port is not None
        except ValueError:
            port_ok = False
        if parts.scheme not in URL_SCHEMES or not parts.hostname or not port_ok:
            problems.append(f"buffer.servers[{index}]: '{_without_userinfo(url)}' must be nats://HOST:PORT or tls://HOST:PORT")
        elif parts.username or parts.password:
            problems.append(f"buffer.servers[{index}]: holds credentials; put them in buffer.token or buffer.user + buffer.password")
    if not STREAM_NAME.match(buffer.stream):
        problems.append(f"buffer.stream: '{buffer.stream}' must be 1-64 of A-Z, a-z, 0-9, '_' and '-' (it is a subject token and a folder)")
    if not 1 <= buffer.replicas <= MAX_REPLICAS:
        problems.append(f"buffer.replicas: must be 1 to {MAX_REPLICAS} (JetStream's limit); 3 survives the loss of any one server")
    if buffer.max_bytes is not None and buffer.max_bytes < 1024**2:
        problems.append('buffer.max_bytes: must be at least 1MiB, e.g. "10GiB"')
    if buffer.ack_wait < 1:
        problems.append('buffer.ack_wait: must be at least 1s (a member renews it while it delivers), e.g. "30s"')
    if buffer.spool_max_bytes < 1024**2:
        problems.append('buffer.spool_max_bytes: must be at least 1MiB, e.g. "1GiB"')
    _check_credentials(buffer, problems)
    _check_tls(buffer, problems)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return url if "@" not in parts.netloc else url.replace(parts.netloc, parts.netloc.rsplit("@", 1)[1])


def _check_credentials(buffer: BufferConfig, problems: list[str]) -> None:
    kinds = [name for name, value in (("creds_file", buffer.creds_file), ("nkey_seed_file", buffer.nkey_seed_file),
                                      ("token", buffer.token), ("user", buffer.user or buffer.password)) if value is not None]
    if len(kinds) > 1:
        problems.append(f"buffer.{kinds[1]}: one kind of credential at a time; {' and '.join(kinds)} are both set")
    if (buffer.user is None) != (buffer.password is None):
        problems.append("buffer.user: user and password go together; set both or neither")
    if buffer.token is not None and not buffer.token.strip():
        problems.append("buffer.token: is empty (is its ${VAR} set but empty?); set the token, or remove the key")
    for key in ("creds_file", "nkey_seed_file"):
        _check_file(f"buffer.{key}", getattr(buffer, key), problems)


def _check_tls(buffer: BufferConfig, problems: list[str]) -> None:
    tls = buffer.tls
    if (tls.cert_file is None) != (tls.key_file is None):
        problems.append("buffer.tls.cert_file: cert_file and key_file go together (a client certificate); set both or neither")
    for key in ("ca_file", "cert_file", "key_file"):
        _check_file(f"buffer.tls.{key}", getattr(tls, key), problems)


def _check_file(key: str, path: str | None, problems: list[str]) -> None:
    if path is not None and not Path(path).is_file():
        problems.append(f"{key}: {path} is not a readable file")
