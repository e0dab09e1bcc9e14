"""The configuration: TOML (or a dict with the same keys) -> typed, validated :class:`Config`.

Loading is one pass that collects *every* problem before raising one
:class:`~shippers.errors.ConfigError`, each problem naming its key path and what to do,
e.g. ``sinks.archive.bukcet: unknown key (did you mean 'bucket'?)``.

- ``${VAR}`` in any string is read from the environment; a missing variable is an error
  naming it (``$${...}`` writes a literal ``${...}``).
- Sizes accept ``"10MiB"``-style strings, durations ``"5s"``-style strings.
- Relative paths resolve against the config file's folder.
- Each sink's keys are the common ones (:class:`SinkCommon`) plus its adapter's ``Config``
  struct; unknown keys and unknown sink types are errors.

The defaults live in the struct definitions below and nowhere else; the README's reference
table is generated from the same values (``tests/test_readme.py`` checks it).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from shippers import units
from shippers.config_buffer import BufferConfig, check_buffer, max_bytes_of
from shippers.config_types import ByteSize, Duration, FilePath, Secret
from shippers.enrichment.databases import check_database
from shippers.errors import ConfigError
from shippers.plugins import adapter_info, broken_adapters, broken_reason, installed_adapters, unknown_type_hint

DEFAULT_CONFIG_FILE = "authlog.toml"
_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Why: sink names end up in S3 keys, metric labels and file names (DESIGN.md).
SINK_NAME = re.compile(r"^[a-z0-9_-]+$")


class ServerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    listen: str = "127.0.0.1:8787"
    token: str | None = None
    tokens: list[str] = msgspec.field(default_factory=list)
    token_file: FilePath | None = None
    tls_cert: FilePath | None = None
    tls_key: FilePath | None = None
    # Why: 10 MiB holds ~10k typical events; counted after decompression so a gzip bomb is a 413.
    max_body_bytes: ByteSize = ByteSize(10 * 1024 * 1024)
    # Why: bounds the memory one request can pin while it is validated and committed.
    max_events_per_request: int = 50_000
    # Why: a connection with no request in progress (never sent one, or idle between two) holds
    # a file descriptor; 30 s outlasts any client's keep-alive reuse gap, and frees the fd of a
    # client that opens sockets and sends nothing.
    idle_timeout: Duration = Duration(30.0)
    # None: derived at start-up from RLIMIT_NOFILE minus what the store, sinks and logs need.
    max_connections: int | None = None
    # "process": bodies are split, validated and committed in a second process (the other core;
    # shippers/sidecar/ingest_process.py); "thread": on two threads of the server's process.
    ingest: Literal["process", "thread"] = "process"


class CatalogConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    extra: FilePath | None = None


class EnrichConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[enrich]``: facts derived once per event at ingest (shippers/enrichment); all off by default."""

    geoip_db: FilePath | None = None  # a MaxMind City or Country database (.mmdb), supplied by the user
    asn_db: FilePath | None = None  # a MaxMind ASN database
    user_agent: bool = False  # parse userAgent into browser / OS / device


class DeliveryConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[delivery]``: where the sinks are delivered from (shippers/delivery_process)."""

    # "auto": one process per core (at most one per sink, shippers/delivery_process/plan.py), none with
    # a single sink; 0: threads of the delivering process; N: N processes. None (not set): "auto" in
    # `authlog run`, 0 in an embedded Shipper (an app's process keeps its own shape unless it asks).
    processes: Literal["auto"] | int | None = None


class RouteConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    types: list[str] = msgspec.field(default_factory=lambda: ["*"])
    outcomes: list[Literal["success", "failure"]] = msgspec.field(default_factory=list)
    tenants: list[str] = msgspec.field(default_factory=list)


class BatchConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_events: int | None = None
    max_bytes: ByteSize | None = None
    timeout: Duration | None = None


class RetryConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Why: 1 s start and a 60 s cap are the consensus of Vector, Fluent Bit and the OTel Collector.
    initial: Duration = Duration(1.0)
    max: Duration = Duration(60.0)


PiiAction = Literal["keep", "hash", "mask", "drop"]


class PiiConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: PiiAction = "keep"
    ip: PiiAction = "keep"
    user_agent: PiiAction = "keep"
    # The enrichment's geolocation: None follows ip (kept only when ip = "keep"); "keep" keeps
    # city-level location where the address itself is hashed, masked or dropped.
    geo: Literal["keep", "drop"] | None = None
    hash_key: str | None = None


class SinkCommon(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys every sink accepts, whatever its type."""

    type: str
    route: RouteConfig = msgspec.field(default_factory=RouteConfig)
    batch: BatchConfig = msgspec.field(default_factory=BatchConfig)
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    concurrency: int | None = None  # None: the adapter's default_concurrency
    max_backlog: ByteSize | None = None
    when_full: Literal["block", "drop_oldest"] = "block"
    start_at: Literal["tail", "oldest"] = "tail"
    pii: PiiConfig = msgspec.field(default_factory=PiiConfig)


class SinkConfig(msgspec.Struct, kw_only=True):
    """One configured sink: its name, the common keys and its adapter's own config struct."""

    name: str
    common: SinkCommon
    adapter: Any


class Config(msgspec.Struct, kw_only=True):
    server: ServerConfig
    buffer: BufferConfig
    catalog: CatalogConfig
    sinks: dict[str, SinkConfig]
    source: Path | None = None  # the file it came from, if any
    enrich: EnrichConfig = msgspec.field(default_factory=EnrichConfig)
    delivery: DeliveryConfig = msgspec.field(default_factory=DeliveryConfig)


def with_default_processes(config: Config, processes: Literal["auto"] | int) -> Config:
    """``config`` with ``[delivery] processes`` set to ``processes`` where the file leaves it out (`authlog run`: "auto")."""
    if config.delivery.processes is not None:
        return config
    return msgspec.structs.replace(config, delivery=DeliveryConfig(processes=processes))


SECTIONS: dict[str, type[msgspec.Struct]] = {
    "server": ServerConfig,
    "buffer": BufferConfig,
    "catalog": CatalogConfig,
    "enrich": EnrichConfig,
    "delivery": DeliveryConfig,
}


def _suggest(key: str, known: list[str], noun: str = "keys") -> str:
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else f" (known {noun}: {', '.join(sorted(known))})"


class _Loader:
    """One load: carries the base folder, the environment and the problem list."""

    def __init__(self, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self.environ = environ
        self.problems: list[str] = []

    # -- values ----------------------------------------------------------
    def interpolate(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            def replace(match: re.Match[str]) -> str:
                if match.group(1):  # $${VAR} -> literal ${VAR}
                    return "${" + match.group(2) + "}"
                name = match.group(2)
                if name not in self.environ:
                    self.problems.append(f"{path}: environment variable {name} is not set; export it or remove ${{{name}}}")
                    return match.group(0)  # left as written, so no second, confusing problem follows
                return self.environ[name]

            return _VAR.sub(replace, value)
        if isinstance(value, dict):
            return {k: self.interpolate(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def dec_hook(self, kind: type, value: Any) -> Any:
        if kind is ByteSize:
            return ByteSize(units.parse_size(value))
        if kind is Duration:
            return Duration(units.parse_duration(value))
        if kind is Secret:
            if not isinstance(value, str):
                raise ValueError("expected a string")
            return Secret(value)
        if kind is FilePath:
            if not isinstance(value, str) or not value:
                raise ValueError("expected a path (a non-empty string)")
            path = Path(value).expanduser()
            return FilePath(str(path if path.is_absolute() else self.base_dir / path))
        raise NotImplementedError(kind)

    def table(self, raw: Any, schema: type[msgspec.Struct], path: str, extra_known: tuple[str, ...] = ()) -> Any:
        """Check one table key by key (so every problem is reported), then build the struct."""
        if not isinstance(raw, dict):
            self.problems.append(f"{path}: must be a table")
            return None
        fields = {f.name: f for f in msgspec.structs.fields(schema)}
        known = [*fields, *extra_known]
        ok = True
        for key, value in raw.items():
            where = f"{path}.{key}"
            if key not in fields:
                if key not in extra_known:
                    self.problems.append(f"{where}: unknown key{_suggest(key, known)}")
                    ok = False
                continue
            nested = fields[key].type
            if isinstance(nested, type) and issubclass(nested, msgspec.Struct):
                ok = self.table(value, nested, where) is not None and ok
                continue
            try:
                msgspec.convert(value, fields[key].type, dec_hook=self.dec_hook, strict=False)
            except (msgspec.ValidationError, ValueError) as exc:
                self.problems.append(f"{where}: {_explain(exc)}")
                ok = False
        for name, f in fields.items():
            if f.required and name not in raw:
                self.problems.append(f"{path}.{name}: required")
                ok = False
        if not ok:
            return None
        own = {k: v for k, v in raw.items() if k in fields}
        try:
            return msgspec.convert(own, schema, dec_hook=self.dec_hook, strict=False)
        except (msgspec.ValidationError, ValueError) as exc:
            self.problems.append(f"{path}: {_explain(exc)}")
            return None

    # -- sections -----------------------------------------------------------
    def sink(self, name: str, raw: Any) -> SinkConfig | None:
        path = f"sinks.{name}"
        if not SINK_NAME.match(name):
            self.problems.append(f"{path}: sink names use only a-z, 0-9, '_' and '-' (they appear in keys and metrics)")
        if not isinstance(raw, dict):
            self.problems.append(f"{path}: must be a table")
            return None
        kind = raw.get("type")
        if kind is None:
            self.problems.append(f"{path}.type: required; one of {', '.join(sorted(installed_adapters()))}")
            return None
        # Only the named plugin is imported: the others' SDKs would cost tens of MiB in every process.
        info = adapter_info(kind) if isinstance(kind, str) else None
        broken = broken_reason(kind) if isinstance(kind, str) and info is None else None
        if broken is not None:
            self.problems.append(f"{path}.type: the {kind!r} adapter cannot load: {broken}")
            return None
        if info is None:
            names = [*installed_adapters(), *broken_adapters()]
            self.problems.append(
                f"{path}.type: unknown sink type {kind!r}{_suggest(str(kind), names, 'types')}; `authlog adapters` "
                f"lists the installed ones{unknown_type_hint(kind)}"
            )
            common_fields = tuple(f.name for f in msgspec.structs.fields(SinkCommon))
            self.table({k: v for k, v in raw.items() if k in common_fields}, SinkCommon, path)
            return None
        adapter_fields = tuple(f.name for f in msgspec.structs.fields(info.cls.Config))
        common_fields = tuple(f.name for f in msgspec.structs.fields(SinkCommon))
        # Unknown keys are reported once, by the common table, with suggestions from both sets.
        common = self.table(raw, SinkCommon, path, adapter_fields)
        adapter = self.table({k: v for k, v in raw.items() if k in adapter_fields}, info.cls.Config, path)
        if common is not None:
            self.check_common(path, common)
        if common is None or adapter is None:
            return None
        return SinkConfig(name=name, common=common, adapter=adapter)

    def check_common(self, path: str, common: SinkCommon) -> None:
        pii = common.pii
        if "hash" in (pii.email, pii.ip, pii.user_agent) and not pii.hash_key:
            self.problems.append(f"{path}.pii.hash_key: required when a field is hashed (HMAC-SHA256 key; use ${{VAR}})")
        if common.concurrency is not None and common.concurrency < 1:
            self.problems.append(f"{path}.concurrency: must be at least 1")
        if common.retry.initial > common.retry.max:
            self.problems.append(f"{path}.retry.initial: must not exceed retry.max")
        batch = common.batch
        if batch.max_events is not None and batch.max_events < 1:
            self.problems.append(f"{path}.batch.max_events: must be at least 1")


def _explain(exc: Exception) -> str:
    text = str(exc)
    return text.replace("Expected `", "expected `").split(" - at ")[0]


def config_from_dict(raw: Mapping[str, Any], base_dir: Path | None = None, environ: Mapping[str, str] | None = None, source: Path | None = None) -> Config:
    """Validate a config given as a dict (the same keys as the TOML file)."""
    loader = _Loader(base_dir or Path.cwd(), os.environ if environ is None else environ)
    doc = loader.interpolate(dict(raw), "")
    sections: dict[str, Any] = {}
    for key in doc:
        if key not in (*SECTIONS, "sinks"):
            loader.problems.append(f"{key}: unknown section{_suggest(key, [*SECTIONS, 'sinks'])}")
    for key, schema in SECTIONS.items():
        sections[key] = loader.table(doc.get(key, {}), schema, key)
    sinks: dict[str, SinkConfig] = {}
    raw_sinks = doc.get("sinks", {})
    if not isinstance(raw_sinks, dict):
        loader.problems.append("sinks: must be a table of [sinks.<name>] tables")
        raw_sinks = {}
    if not raw_sinks:
        loader.problems.append("sinks: no sink configured; add e.g. [sinks.local] type = \"file\" path = \"./var/out/events.ndjson\"")
    for name, table in raw_sinks.items():
        sink = loader.sink(name, table)
        if sink is not None:
            sinks[name] = sink
    server = sections["server"]
    if server is not None:
        _check_server(server, loader.problems)
    buffer = sections["buffer"]
    if buffer is not None:
        raw_buffer = doc.get("buffer", {})
        check_buffer(buffer, set(raw_buffer) if isinstance(raw_buffer, dict) else set(), loader.problems)
        if buffer.max_bytes is None:  # the kind's default
            sections["buffer"] = msgspec.structs.replace(buffer, max_bytes=ByteSize(max_bytes_of(buffer)))
    if sections["enrich"] is not None:
        _check_enrich(sections["enrich"], loader.problems)
    delivery = sections["delivery"]
    if delivery is not None and isinstance(delivery.processes, int) and (delivery.processes < 0 or isinstance(delivery.processes, bool)):
        loader.problems.append('delivery.processes: must be "auto", 0 (threads of one process) or a number of processes, e.g. 2')
    if loader.problems:
        raise ConfigError(loader.problems)
    return Config(server=server, buffer=sections["buffer"], catalog=sections["catalog"], sinks=sinks, source=source,
                  enrich=sections["enrich"], delivery=delivery)


def _check_enrich(enrich: EnrichConfig, problems: list[str]) -> None:
    """Each database opens as the kind its key takes (a problem naming the key and the file otherwise)."""
    for key, path, geo in (("enrich.geoip_db", enrich.geoip_db, True), ("enrich.asn_db", enrich.asn_db, False)):
        if path is not None:
            problem = check_database(key, path, geo=geo)
            if problem is not None:
                problems.append(problem)


def _check_server(server: ServerConfig, problems: list[str]) -> None:
    host, _, port = server.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        problems.append(f"server.listen: '{server.listen}' must be HOST:PORT, e.g. '127.0.0.1:8787'")
    if (server.tls_cert is None) != (server.tls_key is None):
        problems.append("server.tls_cert: tls_cert and tls_key go together; set both or neither")
    if server.idle_timeout <= 0:
        problems.append("server.idle_timeout: must be more than 0 (idle connections are closed after it), e.g. \"30s\"")
    if server.max_connections is not None and server.max_connections < 1:
        problems.append("server.max_connections: must be at least 1; leave it out to derive it from the file-descriptor limit")
    # An empty token must never mean "no authentication": `token = "${AUTHLOG_TOKEN}"` with the
    # variable set but empty would otherwise turn auth off silently on loopback.
    named = [("server.token", server.token)] if server.token is not None else []
    named += [(f"server.tokens[{i}]", token) for i, token in enumerate(server.tokens)]
    for key, token in named:
        if not token.strip():
            problems.append(
                f"{key}: is empty (is its ${{VAR}} set but empty?); set a secret, or remove the key to run without a token"
            )


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML config file."""
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: no such config file; pass -c FILE or create {DEFAULT_CONFIG_FILE}"]) from None
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read it ({exc.strerror})"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{file}: not valid TOML: {exc}"]) from None
    return config_from_dict(raw, base_dir=file.resolve().parent, environ=environ, source=file)


def resolve_tokens(server: ServerConfig) -> list[str]:
    """Every accepted ingest token: token, tokens and the token file's lines.

    A token file that holds no token (empty, or only blank lines) is a :class:`ConfigError`:
    an emptied secret must stop the sidecar, not turn authentication off.
    """
    tokens = [t for t in [server.token, *server.tokens] if t]
    if server.token_file:
        try:
            lines = [line.strip() for line in Path(server.token_file).read_text("utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise ConfigError([f"server.token_file: cannot read {server.token_file} ({exc.strerror})"]) from None
        except UnicodeDecodeError:
            raise ConfigError([f"server.token_file: {server.token_file} is not UTF-8 text; write one token per line"]) from None
        if not lines:
            raise ConfigError([
                f"server.token_file: {server.token_file} holds no token (it is empty or blank); "
                "write one token per line, or remove token_file to run without a token"
            ])
        tokens += lines
    return tokens
