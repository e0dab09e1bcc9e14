"""A ``logging.Handler`` that ships records carrying ``extra={"auth_event": {...}}`` and ignores the rest.

::

    logger.info("login ok", extra={"auth_event": {"type": "login.completed", "userId": "u-7"}})

The record's own fields never leak into the event: only the ``auth_event`` dict is shipped,
validated like any other event. An invalid event is reported through ``handleError`` (the
logging module's own channel) and counted (``authlog_events_rejected_total``), never raised into
the app's logging call. The shipper's own loggers (``shippers.*``) are never shipped, so it
cannot feed on itself.

When the store refuses the event (a full sink or store for longer than ``[buffer] emit_timeout``,
a store that takes no writes), the log call still returns normally, but not silently: the event is
counted by ``Shipper.emit`` in ``authlog_events_refused_total{reason}`` and this handler logs a
warning, at most once per LOSS_WARNING_EVERY_SECONDS, with the number of events lost since the last one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from shippers.errors import BufferError, Rejection
from shippers.shipper import Shipper

EXTRA_KEY = "auth_event"
# Why: a store that stays full refuses every log call; one warning a minute (with the count) says so
# without flooding the app's log.
LOSS_WARNING_EVERY_SECONDS = 60.0

log = logging.getLogger(__name__)  # a shippers.* logger: this handler never ships its own warnings


class AuthEventHandler(logging.Handler):
    """Ships the ``auth_event`` of each record through a Shipper (default: the configured one)."""

    def __init__(
        self, shipper: Shipper | None = None, level: int = logging.NOTSET, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(level)
        self._shipper = shipper
        self._monotonic = monotonic
        self._loss_lock = threading.Lock()
        self._warned_at: float | None = None  # monotonic time of the last loss warning
        self._unreported = 0  # events lost since then

    def _target(self) -> Shipper:
        if self._shipper is not None:
            return self._shipper
        from shippers.api import get_shipper

        return get_shipper()

    def emit(self, record: logging.LogRecord) -> None:
        payload: Any = getattr(record, EXTRA_KEY, None)
        if payload is None or record.name.startswith("shippers."):
            return
        try:
            target = self._target()
            if not isinstance(payload, Mapping):
                target.metrics.count_rejected(Rejection.NOT_AN_OBJECT)
                raise TypeError(f"extra['{EXTRA_KEY}'] must be a dict, got {type(payload).__name__}")
            fields = dict(payload)
            event_type = fields.pop("type", None)
            if event_type is None:
                target.metrics.count_rejected(Rejection.MISSING_FIELD)
                raise ValueError(f"extra['{EXTRA_KEY}'] has no 'type'")
            target.emit(event_type, **fields)
        except BufferError as exc:  # refused by the store, counted by Shipper.emit: say so, rate-limited
            self._lost(exc)
        except Exception:
            self.handleError(record)

    def _lost(self, exc: BufferError) -> None:
        now = self._monotonic()
        with self._loss_lock:
            self._unreported += 1
            if self._warned_at is not None and now - self._warned_at < LOSS_WARNING_EVERY_SECONDS:
                return
            lost, self._unreported, first = self._unreported, 0, self._warned_at is None
            self._warned_at = now
        log.warning(
            "AuthEventHandler: %s event(s) logged since %s were not stored and are lost: %s; counted in "
            "authlog_events_refused_total (size [buffer] emit_timeout and the sink's max_backlog for the outages to ride out)",
            lost if first else f"{lost} more", "start" if first else "the last report", exc,
        )
