"""A ``logging.Handler`` that ships records carrying ``extra={"auth_event": {...}}`` and ignores the rest.

::

    logger.info("login ok", extra={"auth_event": {"type": "login.completed", "userId": "u-7"}})

The record's own fields never leak into the event: only the ``auth_event`` dict is shipped,
validated like any other event. An invalid event is reported through ``handleError`` (the
logging module's own channel), never raised into the app's logging call. The shipper's own
loggers (``shippers.*``) are never shipped, so it cannot feed on itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shippers.shipper import Shipper

EXTRA_KEY = "auth_event"


class AuthEventHandler(logging.Handler):
    """Ships the ``auth_event`` of each record through a Shipper (default: the configured one)."""

    def __init__(self, shipper: Shipper | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._shipper = shipper

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
            if not isinstance(payload, Mapping):
                raise TypeError(f"extra['{EXTRA_KEY}'] must be a dict, got {type(payload).__name__}")
            fields = dict(payload)
            event_type = fields.pop("type", None)
            if event_type is None:
                raise ValueError(f"extra['{EXTRA_KEY}'] has no 'type'")
            self._target().emit(event_type, **fields)
        except Exception:
            self.handleError(record)
