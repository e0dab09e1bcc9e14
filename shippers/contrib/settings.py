"""The two settings an app gives the integration, read and checked with every problem named by its key.

``AUTHLOG`` is the shipper's config: exactly the keys of ``authlog.toml`` as a dict, or
``{"config": "/etc/authlog.toml"}``. Embedded mode needs it whole; sidecar mode reads only its
``[catalog] extra`` (the sidecar has the rest), so the app knows the extension types it may map.

``AUTHLOG_INTEGRATION`` is the integration's own::

    mode                 "embedded" (emit into the local store, the default) | "sidecar" (post to `authlog run`)
    sidecar_url          where `authlog run` listens (default http://127.0.0.1:8787)
    sidecar_token        its ingest token, if it requires one
    budget               how long a request may wait for the sidecar, e.g. "50ms"
    on_slow              "spool" (keep the event in spool_path, forwarded later) | "drop" (count it)
    spool_path           the spool's SQLite file (default <base dir>/var/authlog-spool.sqlite3)
    spool_max_bytes      the spool's cap, e.g. "64MiB"
    tenant               dotted path of a callable(request) -> tenant id or None
    events               moment or dotted path -> catalog type (None turns a moment off): moments.py
    failed_login_lookup  look the username up to tell invalid_email from invalid_password (default true)
    registry             dotted path of the prometheus_client CollectorRegistry the app exposes (default: REGISTRY)

Every problem is collected and raised as one :class:`~shippers.errors.ConfigError`, each line
starting with its key (``AUTHLOG_INTEGRATION.budget: ...``), the way ``authlog check-config`` does.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from shippers import units
from shippers.catalog import Catalog, load_catalog
from shippers.config import Config, config_from_dict, load_config
from shippers.errors import CatalogError, ConfigError

INTEGRATION_KEY = "AUTHLOG_INTEGRATION"
AUTHLOG_KEY = "AUTHLOG"
MODES = ("embedded", "sidecar")
ON_SLOW = ("spool", "drop")
DEFAULT_SIDECAR_URL = "http://127.0.0.1:8787"
# Why: 50 ms is below what a person notices on a login, and ~50x a healthy loopback sidecar's answer.
DEFAULT_BUDGET_SECONDS = 0.05
# Why: a budget past 5 s is not a budget: the login would visibly hang on a stopped sidecar.
MAX_BUDGET_SECONDS = 5.0
# Why: 64 MiB holds ~100k events (~0.6 KiB each): an hour-long sidecar outage of a busy app's logins.
DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024
# Why: below 1 MiB the spool fills in seconds at a login storm; SQLite itself needs a few pages.
MIN_SPOOL_MAX_BYTES = 1024 * 1024
DEFAULT_SPOOL_FILE = Path("var") / "authlog-spool.sqlite3"

_KEYS = ("mode", "sidecar_url", "sidecar_token", "budget", "on_slow", "spool_path", "spool_max_bytes", "tenant",
         "events", "failed_login_lookup", "registry")


@dataclass(frozen=True)
class IntegrationSettings:
    """AUTHLOG_INTEGRATION, checked (see the module docstring for each key)."""

    mode: Literal["embedded", "sidecar"] = "embedded"
    sidecar_url: str = DEFAULT_SIDECAR_URL
    sidecar_token: str | None = None
    budget: float = DEFAULT_BUDGET_SECONDS
    on_slow: Literal["spool", "drop"] = "spool"
    spool_path: Path = DEFAULT_SPOOL_FILE
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    tenant: str | None = None
    events: dict[str, str | None] = field(default_factory=dict)
    failed_login_lookup: bool = True
    registry: str | None = None


def _where(key: str) -> str:
    return f"{INTEGRATION_KEY}.{key}"


def _suggest(key: str) -> str:
    match = difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else f" (known keys: {', '.join(_KEYS)})"


def parse_integration(raw: Mapping[str, Any] | None, base_dir: Path) -> tuple[IntegrationSettings, list[str]]:
    """AUTHLOG_INTEGRATION -> settings and the problems found (the defaults stand in for a bad value)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return IntegrationSettings(spool_path=base_dir / DEFAULT_SPOOL_FILE), [f"{INTEGRATION_KEY}: must be a dict"]
    problems = [f"{_where(str(k))}: unknown key{_suggest(str(k))}" for k in raw if k not in _KEYS]
    values: dict[str, Any] = {}

    def choice(key: str, allowed: tuple[str, ...]) -> None:
        if key in raw:
            if raw[key] in allowed:
                values[key] = raw[key]
            else:
                problems.append(f"{_where(key)}: must be one of {', '.join(repr(a) for a in allowed)}, got {raw[key]!r}")

    choice("mode", MODES)
    choice("on_slow", ON_SLOW)
    if "sidecar_url" in raw:
        url = raw["sidecar_url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"{_where('sidecar_url')}: {url!r} is not an http(s) URL; write e.g. {DEFAULT_SIDECAR_URL!r}")
        else:
            values["sidecar_url"] = url
    for key in ("sidecar_token", "tenant", "registry"):
        if key in raw and raw[key] is not None:
            if isinstance(raw[key], str) and raw[key].strip():
                values[key] = raw[key]
            else:
                problems.append(f"{_where(key)}: must be a non-empty string (or leave it out)")
    def measured(key: str, parse: Callable[[Any], float], fits: Callable[[float], bool], limits: str) -> None:
        if key not in raw:
            return
        try:
            value = parse(raw[key])
        except (ValueError, TypeError) as exc:
            problems.append(f"{_where(key)}: {exc}")
            return
        if fits(value):
            values[key] = value
        else:
            problems.append(f"{_where(key)}: {limits}")

    measured("budget", units.parse_duration, lambda b: 0 < b <= MAX_BUDGET_SECONDS,
             f"must be more than 0 and at most {MAX_BUDGET_SECONDS:g}s, e.g. '50ms'")
    measured("spool_max_bytes", units.parse_size, lambda cap: cap >= MIN_SPOOL_MAX_BYTES, "must be at least 1MiB")
    spool = raw.get("spool_path")
    if spool is not None and not (isinstance(spool, str | Path) and str(spool)):
        problems.append(f"{_where('spool_path')}: must be a path (a non-empty string)")
        spool = None
    spool_path = Path(spool).expanduser() if spool is not None else DEFAULT_SPOOL_FILE
    values["spool_path"] = spool_path if spool_path.is_absolute() else base_dir / spool_path
    if "failed_login_lookup" in raw:
        if isinstance(raw["failed_login_lookup"], bool):
            values["failed_login_lookup"] = raw["failed_login_lookup"]
        else:
            problems.append(f"{_where('failed_login_lookup')}: must be true or false")
    events = raw.get("events", {})
    if not isinstance(events, Mapping) or not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in events.items()):
        problems.append(f"{_where('events')}: must map a moment or a dotted path to a catalog type (or None), e.g. "
                        "{'logout': 'session.logout'}")
    else:
        values["events"] = dict(events)
    return IntegrationSettings(**values), problems


def shipper_config(raw: Mapping[str, Any], base_dir: Path) -> Config:
    """AUTHLOG -> the shipper's Config; raises ConfigError with every problem prefixed by where it is."""
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{AUTHLOG_KEY}: must be a dict with the keys of authlog.toml, or {{'config': PATH}}"])
    if "config" in raw:
        others = sorted(str(k) for k in raw if k != "config")
        if others:
            raise ConfigError([f"{AUTHLOG_KEY}: 'config' names a file and goes alone; move {', '.join(others)} into that file"])
        path = Path(raw["config"]).expanduser()
        try:
            return load_config(path if path.is_absolute() else base_dir / path)
        except ConfigError as exc:
            raise ConfigError([f"{AUTHLOG_KEY}['config']: {p}" for p in exc.problems]) from None
    try:
        return config_from_dict(raw, base_dir=base_dir)
    except ConfigError as exc:
        raise ConfigError([f"{AUTHLOG_KEY}.{p}" for p in exc.problems]) from None


def catalog_only(raw: Mapping[str, Any] | None, base_dir: Path) -> Catalog:
    """The catalog named by AUTHLOG's ``[catalog] extra`` (sidecar mode: the rest is the sidecar's); raises ConfigError."""
    if raw is None:
        return load_catalog(None)
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{AUTHLOG_KEY}: must be a dict with the keys of authlog.toml, or {{'config': PATH}}"])
    where, doc = AUTHLOG_KEY, raw
    if "config" in raw:
        path = Path(raw["config"]).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            doc = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError([f"{AUTHLOG_KEY}['config']: cannot read {path} ({exc.strerror})"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{AUTHLOG_KEY}['config']: {path} is not valid TOML: {exc}"]) from None
        where, base_dir = f"{AUTHLOG_KEY}['config']", path.parent
    section = doc.get("catalog", {})
    extra = section.get("extra") if isinstance(section, Mapping) else None
    if extra is None:
        return load_catalog(None)
    extra_path = Path(str(extra)).expanduser()
    try:
        return load_catalog(extra_path if extra_path.is_absolute() else base_dir / extra_path)
    except CatalogError as exc:
        raise ConfigError([f"{where}: {p}" for p in exc.problems]) from None
