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
    │   ├── BufferUnavailableError    cannot take writes now: read-only, I/O error, locked (.retry_after, .kind)
    │   └── BufferFullError           no room: a full sink (when_full="block"), [buffer] max_bytes, or the
    │                                 store's disk (.retry_after, .sink, .kind)

Delivery failures are not exceptions: each adapter's transport translates its SDK's
exceptions at the edge and its classifier returns an :class:`adapters.contract.Verdict`
(retry, split, reject, sink_error...), so the core never imports an SDK.
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


class BufferUnavailableError(BufferError):
    """The store cannot take writes right now (read-only, I/O error, locked); retrying later may work.

    ``kind`` is a low-cardinality label for metrics: ``read_only``, ``io_error``, ``locked``, ...
    """

    def __init__(self, message: str, retry_after: float = 1.0, kind: str = "unavailable") -> None:
        self.retry_after = retry_after
        self.kind = kind
        super().__init__(message)


class BufferFullError(BufferError):
    """No room in the store: a sink with ``when_full = "block"`` is full, the store is at
    ``[buffer] max_bytes``, or its disk is full (``kind = "disk_full"``)."""

    def __init__(self, message: str, retry_after: float = 1.0, sink: str | None = None, kind: str = "full") -> None:
        self.retry_after = retry_after
        self.sink = sink  # the full sink, when one sink's backlog (not the whole store) is the cause
        self.kind = kind
        super().__init__(message)
