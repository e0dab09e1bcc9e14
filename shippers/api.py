"""The in-process API for apps that configure the shipper in their settings.

::

    import shippers
    shippers.configure({"buffer": {"path": "/var/lib/myapp/authlog"},
                        "sinks": {"siem": {"type": "elasticsearch", "hosts": ["https://..."]}}})
    shippers.emit("login.completed", userId=user.id, ip=request.remote_addr)

``emit`` validates and appends to the durable buffer before it returns (so an event the app
has seen succeed survives a crash); it raises ``ValidationError`` for a bad event, whatever
the fields hold (``.reason`` is one of :class:`shippers.errors.Rejection`, the message says
which field and what to do), and ``BufferFullError`` when the buffer stays full for
``[buffer] emit_timeout``. Every process
of the app (gunicorn workers...) may call ``configure`` with the same config: all append,
one delivers (the others stand by and take over if it exits).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shippers.config import Config
from shippers.errors import AuthlogError
from shippers.event import Event
from shippers.shipper import Shipper

_lock = threading.Lock()
_shipper: Shipper | None = None


def configure(config: Config | Mapping[str, Any] | str | Path, *, deliver: bool = True) -> Shipper:
    """Set up the process-wide shipper (replacing any earlier one); deliver if this process gets the lock.

    With ``[buffer] kind = "jetstream"`` an app only publishes to the fleet's stream: the fleet's
    members (``authlog run``) deliver, whatever ``deliver`` says.
    """
    global _shipper
    with _lock:
        # Build the new one first: a config that fails leaves the running shipper as it was (not
        # closed under an app that goes on emitting into a store nobody delivers from).
        replacement = Shipper.from_config(config)
        previous, _shipper = _shipper, replacement
        if previous is not None:
            previous.close()
        if deliver and replacement.config.buffer.kind != "jetstream":
            replacement.start(standby=True)
        return replacement


def get_shipper() -> Shipper:
    if _shipper is None:
        raise AuthlogError("shippers.configure(...) has not been called in this process")
    return _shipper


def emit(type: str, **fields: Any) -> Event:
    """Validate and durably append one event; see the module docstring for the errors."""
    return get_shipper().emit(type, **fields)


def shutdown(timeout: float = 10.0) -> None:
    """Flush what can be delivered within ``timeout`` and close (also registered atexit)."""
    global _shipper
    with _lock:
        if _shipper is not None:
            _shipper.close(timeout)
            _shipper = None


atexit.register(shutdown)
