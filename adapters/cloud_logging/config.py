"""The ``cloud_logging`` sink's own keys and the Cloud Logging limits, each with where it comes from.

Limits of ``entries.write`` (Cloud Logging quotas page and the v2 REST reference)::

    request body        <= 10 MB       (the service names 10485760 bytes; we stay under 10,000,000)
    one LogEntry        <= 256 KiB     (larger: dead-lettered by check_item, never sent)
    entry timestamp     <= now + 1 day (later: dead-lettered by check_item)
                        >= now - 30 d  (older: accepted, then dropped unless the bucket keeps longer)
    labels per entry    <= 64
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from adapters.contract import BatchLimits, HardLimits
from shippers.config import Duration, FilePath

# Why: the quotas page says "Size of an entries.write request: 10 MB" while the service's
# error names 10485760 bytes; the smaller reading is safe under both.
MAX_REQUEST_BYTES = 10_000_000
# Why: the quotas page: "Size of a LogEntry: 256 KB" (the service reports "256.0K"). We measure
# the compact JSON we send, which is never smaller than the service's own (proto) measure.
MAX_ENTRY_BYTES = 256 * 1024
# Why: the REST reference of entries.write rejects timestamps "more than 1 day in the future".
MAX_FUTURE_SECONDS = 24 * 3600
# Why: the _Default log bucket keeps entries 30 days; older ones are accepted and never stored.
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
# Why: no per-request entry count is documented; 10,000 keeps the commas between entries
# (one byte each) inside the envelope allowance below, whatever batch.max_events says.
MAX_ENTRIES_PER_REQUEST = 10_000
# Why: `{"entries":[` + `],"partialSuccess":true}` is 36 bytes; 1 KiB leaves room for more keys.
ENVELOPE_ALLOWANCE = 1024
# Why: the quotas page: "Number of labels: 64 per LogEntry"; three are ours (event_type, outcome, tenant_id).
MAX_LABELS = 64
RESERVED_LABELS = ("event_type", "outcome", "tenant_id")
# Why: the LogEntry reference: LOG_ID is URL-encoded, "less than 512 characters long and can only
# include ... alphanumeric characters, forward-slash, underscore, hyphen, and period".
LOG_ID = re.compile(r"^[A-Za-z0-9/_.\-]{1,511}$")
# Why: project ids are 6-30 lower-case letters, digits and hyphens; project numbers and old
# domain-scoped ids ("example.com:proj") are also accepted by the API; "/" would break the logName.
PROJECT_ID = re.compile(r"^[a-z0-9][a-z0-9.:\-]{0,99}$")

# Why: 2000 entries (about 2.4 MB) per request, half the request cap in bytes, and a 1 s wait so an
# idle trickle still ships promptly. Vector and the Go client send 1000; twice that is still a quarter
# of the 10 MB cap and costs ~9 % less CPU per event (bench_cloud_logging: 2.30 -> 2.09 s per 100k
# events, ~23 MiB more peak memory).
BATCH_DEFAULTS = BatchLimits(max_events=2000, max_bytes=5 * 1024 * 1024, timeout=1.0)
HARD_LIMITS = HardLimits(
    max_events=MAX_ENTRIES_PER_REQUEST,
    max_bytes=MAX_REQUEST_BYTES - MAX_ENTRIES_PER_REQUEST - ENVELOPE_ALLOWANCE,
    max_item_bytes=MAX_ENTRY_BYTES,
)
# Why: a stuck socket must not hold the sink's worker forever; 30 s is far above a healthy
# write (tens of ms) and below the client's own 60 s default.
DEFAULT_REQUEST_TIMEOUT = 30.0

LogSeverity = Literal["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]

# Why: google/logging/type/log_severity.proto; the catalog's severities map onto it by name.
CATALOG_SEVERITY: dict[str, LogSeverity] = {
    "info": "INFO",
    "notice": "NOTICE",
    "warning": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
}
OUTCOME_SEVERITY: dict[str, LogSeverity] = {"success": "INFO", "failure": "WARNING"}

# Why: Google's monitored-resource list (cloud.google.com/logging/docs/api/v2/resource-list):
# the labels each type takes. Other types are passed through unchecked.
RESOURCE_LABELS: dict[str, tuple[str, ...]] = {
    "global": ("project_id",),
    "generic_node": ("project_id", "location", "namespace", "node_id"),
    "generic_task": ("project_id", "location", "namespace", "job", "task_id"),
    "k8s_container": ("project_id", "location", "cluster_name", "namespace_name", "pod_name", "container_name"),
    "k8s_pod": ("project_id", "location", "cluster_name", "namespace_name", "pod_name"),
    "gce_instance": ("project_id", "instance_id", "zone"),
}


class ResourceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The monitored resource every entry names (``resource = {type = ..., labels = {...}}``)."""

    type: str = "global"
    labels: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.type):
            raise ValueError(f"resource.type: {self.type!r} is not a monitored resource type (e.g. 'global', 'generic_node', 'k8s_container')")
        known = RESOURCE_LABELS.get(self.type)
        if known is not None:
            for key in self.labels:
                if key not in known:
                    raise ValueError(f"resource.labels.{key}: not a label of {self.type} (its labels: {', '.join(known)})")


class CloudLoggingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys of a ``type = "cloud_logging"`` sink (the common sink keys are the core's)."""

    project: str
    log_name: str = "authlog"
    endpoint: str | None = None  # e.g. "http://127.0.0.1:9500": http:// is anonymous unless credentials_file
    credentials_file: FilePath | None = None  # a service-account key (or any google-auth JSON); else ADC
    resource: ResourceConfig = msgspec.field(default_factory=ResourceConfig)
    labels: dict[str, str] = msgspec.field(default_factory=dict)  # added to every entry
    severity_by_type: dict[str, LogSeverity] = msgspec.field(default_factory=dict)  # "user.locked" = "ERROR"
    request_timeout: Duration = Duration(DEFAULT_REQUEST_TIMEOUT)

    def __post_init__(self) -> None:
        if not PROJECT_ID.match(self.project):
            raise ValueError(f"project: {self.project!r} is not a Google Cloud project id (e.g. 'my-project-123')")
        if not LOG_ID.match(self.log_name):
            raise ValueError(
                f"log_name: {self.log_name!r} must be 1-511 characters of letters, digits, '/', '_', '-' and '.'"
            )
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint: {self.endpoint!r} must start with http:// or https://")
        for key in self.labels:
            if key in RESERVED_LABELS:
                raise ValueError(f"labels.{key}: set by the adapter itself; pick another label name")
            if not key:
                raise ValueError("labels: label names must not be empty")
        if len(self.labels) + len(RESERVED_LABELS) > MAX_LABELS:
            raise ValueError(f"labels: at most {MAX_LABELS - len(RESERVED_LABELS)} labels (Cloud Logging takes {MAX_LABELS} per entry)")
        if self.request_timeout <= 0:
            raise ValueError("request_timeout: must be more than 0 seconds")
