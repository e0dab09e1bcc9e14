"""The ``datadog`` sink's own config keys and the Logs intake's limits, each with where it comes from.

Limits of ``POST /api/v2/logs`` (Logs API v2 reference, datadog-api-client 2.62
``LogsApi.submit_log`` docstring; DESIGN/CONTRACTS.md)::

    per request   1000 logs, 5 MB uncompressed        -> 413 when passed (we never pass it)
    per log       1 MB                                -> silently truncated (we dead-letter instead)
    time window   18 h in the past .. 2 h ahead       -> silently dropped (we dead-letter instead)

"MB" is read the strict (decimal) way: 5 MB = 5_000_000 bytes, 1 MB = 1_000_000 bytes, so
no reading of the reference can make us send a request or a log the intake cuts.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from adapters.contract import BatchLimits, HardLimits
from shippers.config import Duration

# Why: Logs API v2 reference, "Maximum array size if sending multiple logs in an array: 1000 entries".
MAX_LOGS_PER_REQUEST = 1000
# Why: "Maximum content size per payload (uncompressed): 5MB"; read as decimal MB, the stricter reading.
MAX_PAYLOAD_BYTES = 5_000_000
# Why: the body is a JSON array: "[" + "]" and "," between logs (adapters.datadog.encoder.encode_body).
ARRAY_FRAMING_BYTES = 2 + (MAX_LOGS_PER_REQUEST - 1)
# Why: "Maximum size for a single log: 1MB"; bigger logs are truncated without an error, so we refuse them.
MAX_LOG_BYTES = 1_000_000
# Why: "Log events can be submitted with a timestamp that is up to 18 hours in the past"; older are dropped.
MAX_PAST_SECONDS = 18 * 3600
# Why: the intake drops logs dated more than 2 h ahead (CONTRACTS.md "Time windows").
MAX_FUTURE_SECONDS = 2 * 3600
# Why: a bad or revoked key (401/403) is fixed by a person; re-asking every 2 minutes is
# harmless for the intake and delivers the kept backlog soon after the key works again.
AUTH_RETRY_AFTER_SECONDS = 120.0
# Why: Vector's datadog_logs sink batches to 4_250_000 bytes: 15 % headroom under the 5 MB cap.
DEFAULT_BATCH_BYTES = 4_250_000
# Why: Vector's and the Datadog Agent's 5 s flush: fresh enough for detection rules, few requests.
DEFAULT_BATCH_TIMEOUT_SECONDS = 5.0
# Why: a stalled intake must not pin a worker forever; 30 s is far above a healthy 202 (tens of ms).
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
# Why: the reference's default site; every other site has its own keys and intake host.
DEFAULT_SITE = "datadoghq.com"
# Why: Datadog derives the source (parsers, facets) and the service from these; "authlog" names us.
DEFAULT_SOURCE = "authlog"
DEFAULT_SERVICE = "authlog"
# Why: the environment variable the Datadog Agent and the official clients read for the key.
API_KEY_ENV = "DD_API_KEY"

BATCH_DEFAULTS = BatchLimits(
    max_events=MAX_LOGS_PER_REQUEST, max_bytes=DEFAULT_BATCH_BYTES, timeout=DEFAULT_BATCH_TIMEOUT_SECONDS
)
HARD_LIMITS = HardLimits(
    max_events=MAX_LOGS_PER_REQUEST,
    max_bytes=MAX_PAYLOAD_BYTES - ARRAY_FRAMING_BYTES,
    max_item_bytes=MAX_LOG_BYTES,
)

# The values Datadog's status remapper understands (the syslog severities, short forms).
Status = Literal["emergency", "alert", "critical", "error", "warn", "notice", "info", "debug"]

# Why: Datadog hosts are plain DNS names (datadoghq.com, us3.datadoghq.com, datadoghq.eu, ddog-gov.com).
_SITE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


class DatadogConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys of a ``type = "datadog"`` sink (the common sink keys are the core's)."""

    api_key: str | None = None  # None: read DD_API_KEY from the environment
    site: str = DEFAULT_SITE  # the intake is https://http-intake.logs.<site>
    endpoint: str | None = None  # full base URL; overrides site (proxies, the local stand-in)
    service: str = DEFAULT_SERVICE
    source: str = DEFAULT_SOURCE  # sent as ddsource
    hostname: str | None = None  # None: this machine's host name, read once at start-up
    env: str | None = None  # adds the env:<env> tag
    tags: list[str] = msgspec.field(default_factory=list)  # extra "key:value" tags on every log
    status_by_type: dict[str, Status] = msgspec.field(default_factory=dict)  # e.g. {"user.locked" = "error"}
    request_timeout: Duration = Duration(DEFAULT_REQUEST_TIMEOUT_SECONDS)

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key is empty; set it (e.g. \"${DD_API_KEY}\") or leave it out to read DD_API_KEY")
        if self.api_key is not None:
            # Why: a key read from a file (a Kubernetes secret) often ends in a newline, which
            # http.client refuses as a header value, quoting the key in its error.
            self.api_key = self.api_key.strip()
            if not self.api_key.isprintable():  # never quote the key in the message
                raise ValueError("api_key contains a control character (after trimming surrounding whitespace); "
                                 "re-create the secret without it")
        if not _SITE.match(self.site):
            raise ValueError(f"site '{self.site}' must be a Datadog site host such as 'datadoghq.com' or 'datadoghq.eu'")
        if self.endpoint is not None and not re.match(r"^https?://[^/\s]+", self.endpoint):
            raise ValueError(f"endpoint '{self.endpoint}' must be an http:// or https:// URL")
        for index, tag in enumerate(self.tags):
            if not tag or "," in tag or tag != tag.strip():
                raise ValueError(f"tags[{index}] '{tag}' must be a non-empty 'key:value' with no comma or edge spaces")
        for name, value in (("service", self.service), ("source", self.source), ("hostname", self.hostname)):
            if value is not None and not value.strip():
                raise ValueError(f"{name} is empty; leave it out to use the default")
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be more than 0 seconds")

    def __repr__(self) -> str:
        """Never show the key, wherever a config ends up printed."""
        return f"DatadogConfig(site={self.site!r}, endpoint={self.endpoint!r}, service={self.service!r}, api_key=***)"

    def __rich_repr__(self) -> Any:
        yield "site", self.site
        yield "endpoint", self.endpoint
        yield "service", self.service
        yield "api_key", "***"


def intake_url(config: DatadogConfig) -> str:
    """The base URL the SDK posts ``/api/v2/logs`` to: ``endpoint`` if set, else the site's intake host."""
    if config.endpoint is not None:
        return config.endpoint.rstrip("/")
    return f"https://http-intake.logs.{config.site}"
