"""Every exception the core raises, in one tree.

::

    AuthlogError                      base of everything below
    ├── ConfigError                   bad configuration; .problems lists every one (key path + what to do)
    │   └── CatalogError              bad catalog extension file
    ├── ValidationError               one event failed validation (.field, .message)
    ├── BufferError                   the durable store
    │   ├── BufferCorruptError        unreadable / not ours: the file path and what to do
    │   ├── BufferLockedError         another process delivers from this store
    │   ├── BufferForkedError         used in a child forked after it was opened (open it after the fork)
    │   └── BufferFullError           no room: a sink with when_full="block" is full (.retry_after)
    └── DeliveryError                 raised by a transport for one attempt; classifiers turn it into outcomes
        ├── RetryableError            transient (5xx, timeouts, connection reset); .retry_after may be set
        │   └── ThrottledError        429 / SlowDown: the destination asked us to slow down
        ├── PermanentError            this request can never succeed as is
        └── SinkMisconfiguredError    401/403, missing bucket/index/project: fix the config, nothing is dropped

Transports translate their SDK's exceptions into ``DeliveryError`` subclasses at the
edge (like httpx's ``map_httpcore_exceptions``), so the core never imports an SDK.
"""

from __future__ import annotations


class AuthlogError(Exception):
    """Base class of every error authlog-shipper raises on purpose."""


class ConfigError(AuthlogError):
    """The configuration is invalid; ``problems`` lists every problem found, each with its key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CatalogError(ConfigError):
    """A catalog file (built-in or extension) is invalid."""


class ValidationError(AuthlogError):
    """One event is invalid. ``field`` names the offending field ('' for the whole event)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    @property
    def reason(self) -> str:
        """A low-cardinality label for metrics: which field failed (never its value)."""
        return self.field or "event"


class BufferError(AuthlogError):
    """A problem with the durable store."""


class BufferCorruptError(BufferError):
    """The store exists but cannot be read as ours; it is never silently recreated."""


class BufferLockedError(BufferError):
    """Another process holds the delivery lock of this store."""


class BufferForkedError(BufferError):
    """The store was opened before this process forked; SQLite handles must not cross a fork."""


class BufferFullError(BufferError):
    """No room in the store for a sink with ``when_full = "block"``."""

    def __init__(self, message: str, retry_after: float = 1.0, sink: str | None = None) -> None:
        self.retry_after = retry_after
        self.sink = sink  # the full sink, when one sink's backlog (not the whole store) is the cause
        super().__init__(message)


class DeliveryError(AuthlogError):
    """One transport attempt failed."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class RetryableError(DeliveryError):
    """A transient failure: try the same request again after a backoff."""


class ThrottledError(RetryableError):
    """The destination asked us to slow down (429, SlowDown); honour ``retry_after``."""


class PermanentError(DeliveryError):
    """This request can never be accepted as is: its events go to the DLQ."""


class SinkMisconfiguredError(DeliveryError):
    """The sink itself is wrong (key, permissions, missing bucket): keep events, mark the sink failing."""
