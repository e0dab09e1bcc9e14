"""Every exception the core raises, in one tree.

::

    AuthlogError                      base of everything below
    ├── ConfigError                   bad configuration; .problems lists every one (key path + what to do)
    │   └── CatalogError              bad catalog extension file
    ├── ValidationError               one event failed validation (.field, .message, .reason: a Rejection)
    ├── BufferError                   the durable store
    │   ├── BufferCorruptError        unreadable / not ours: the file path and what to do
    │   ├── BufferLockedError         another process delivers from this store
    │   ├── BufferForkedError         used in a child forked after it was opened (open it after the fork)
    │   ├── BufferUnavailableError    cannot take writes now: read-only, I/O error, locked (.retry_after, .kind)
    │   ├── BufferFullError           no room: a full sink (when_full="block"), [buffer] max_bytes, or the
    │   │                             store's disk (.retry_after, .sink, .kind)
    │   │   └── BufferUnreachableError  a fleet's JetStream cluster does not answer (also a BufferUnavailableError)
    │   └── ReplayConflictError       an archive replay's checkpoint moved under it: another run queues the same events

Delivery failures are not exceptions: each adapter's transport translates its SDK's
exceptions at the edge and its classifier returns an :class:`adapters.contract.Verdict`
(retry, split, reject, sink_error...), so the core never imports an SDK.
"""

from __future__ import annotations

from enum import StrEnum


class AuthlogError(Exception):
    """Base class of every error authlog-shipper raises on purpose."""


class ConfigError(AuthlogError):
    """The configuration is invalid; ``problems`` lists every problem found, each with its key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CatalogError(ConfigError):
    """A catalog file (built-in or extension) is invalid."""


class Rejection(StrEnum):
    """Why an event was rejected: the closed set of ``authlog_events_rejected_total{reason}`` values.

    A label value is never producer text (a field name, a type, a value): that goes in the
    4xx answer only. README.md ("Rejection reasons") lists these; a test keeps the two equal.
    """

    INVALID_JSON = "invalid_json"  # not JSON: malformed, NaN/Infinity literals, a lone surrogate escape
    NOT_AN_OBJECT = "not_an_object"  # an array or a scalar where one event object belongs
    UNKNOWN_FIELD = "unknown_field"  # a top-level field outside the wire format
    MISSING_FIELD = "missing_field"  # `type` is absent
    WRONG_TYPE = "wrong_type"  # a field of the wrong JSON type (`"userId": 7`, `"details": [1]`)
    EMPTY_FIELD = "empty_field"  # an empty string
    TOO_LONG = "too_long"  # a string over its field's length limit
    TOO_LARGE = "too_large"  # `details` over its encoded-size limit
    TOO_DEEP = "too_deep"  # nested deeper than `details` allows (or than can be read at all)
    TOO_MANY_VALUES = "too_many_values"  # `details` holds more than 1,000 values (lists, objects and scalars together)
    NUMBER_OUT_OF_RANGE = "number_out_of_range"  # a number no float or 64-bit integer holds (1e999999); emit(): NaN, infinity
    UNKNOWN_TYPE = "unknown_type"  # `type` is not in the catalog
    UNKNOWN_REASON = "unknown_reason"  # `reason` is not one of the type's reasons
    INVALID_TIME = "invalid_time"  # not an RFC 3339 timestamp with an offset, or outside years 1-9999 in UTC
    FUTURE_TIME = "future_time"  # more than 24 h ahead of the shipper's clock
    INVALID_ID = "invalid_id"  # `id` holds control characters
    INVALID_EMAIL = "invalid_email"  # `email` is not shaped like an address
    INVALID_IP = "invalid_ip"  # `ip` is not an IPv4 or IPv6 address
    NOT_SERIALISABLE = "not_serialisable"  # emit(): a field value that cannot be JSON
    INVALID = "invalid"  # last resort: the validator failed on this item unexpectedly (logged by type)


class ValidationError(AuthlogError):
    """One event is invalid. ``field`` names the offending field ('' for the whole event).

    ``reason`` is the metrics label (a :class:`Rejection`, never the field's name or value);
    ``field`` and ``message`` may hold producer text and belong in the answer to the producer only.
    """

    def __init__(self, field: str, message: str, reason: Rejection = Rejection.INVALID) -> None:
        self.field = field
        self.message = message
        self.reason = reason
        super().__init__(f"{field}: {message}" if field else message)


class BufferError(AuthlogError):
    """A problem with the durable store."""


class BufferCorruptError(BufferError):
    """The store exists but cannot be read as ours; it is never silently recreated."""


class BufferLockedError(BufferError):
    """Another process holds the delivery lock of this store."""


class SinkRemovedError(BufferError):
    """The delivering process's config lacks a sink whose position still holds undelivered events.

    ``sinks`` maps each such sink to how many events it would lose (an upper bound: events it had
    not scanned yet may not be routed to it).
    """

    def __init__(self, message: str, sinks: dict[str, int]) -> None:
        self.sinks = sinks
        super().__init__(message)


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


class ReplayConflictError(BufferError):
    """An archive replay's checkpoint is not the value the run last saw: another run with the same arguments
    is queueing the same objects (``Buffer.append_replayed`` wrote nothing)."""


class BufferFullError(BufferError):
    """No room in the store: a sink with ``when_full = "block"`` is full, the store is at
    ``[buffer] max_bytes``, or its disk is full (``kind = "disk_full"``)."""

    def __init__(self, message: str, retry_after: float = 1.0, sink: str | None = None, kind: str = "full") -> None:
        self.retry_after = retry_after
        self.sink = sink  # the full sink, when one sink's backlog (not the whole store) is the cause
        self.kind = kind
        super().__init__(message)


class BufferUnreachableError(BufferUnavailableError, BufferFullError):
    """A store on other machines that none answers (a JetStream cluster unreachable, or without quorum).

    Both kinds at once: like a read-only store it may take writes again by itself (``retry_after``), and,
    as the fleet issue promises, ``emit()`` raises it where the embedded store raises BufferFullError, so
    an app's ``except BufferFullError`` handles a fleet's outage the way it handles a full disk.
    """

    def __init__(self, message: str, retry_after: float = 1.0, sink: str | None = None, kind: str = "unreachable") -> None:
        BufferError.__init__(self, message)  # not the parents': each would set its own default kind
        self.retry_after = retry_after
        self.sink = sink
        self.kind = kind
