"""Embedded mode: the shipper runs in the app's process (``shippers.configure`` / ``emit``, the public API).

``configure`` opens the store and starts delivering if this process gets the store's delivery lock
(every worker of the app may: all append, one delivers). It runs once per process, after any fork
(the integration builds a runtime per process id). ``emit`` appends before it returns; a store that
refuses the event past ``[buffer] emit_timeout`` is counted as ``store_full`` / ``store_unavailable``
(and by the shipper in ``authlog_events_refused_total``), never raised into the request. So in
embedded mode the longest a request waits is ``emit_timeout``: set it to your budget.
"""

from __future__ import annotations

from typing import Any

from shippers import api
from shippers.config import Config
from shippers.contrib.drops import DropCounter
from shippers.errors import BufferError, BufferFullError, BufferUnavailableError, ValidationError
from shippers.shipper import Shipper


class EmbeddedDelivery:
    """This process's shipper (the process-wide one of :mod:`shippers.api`)."""

    def __init__(self, config: Config, drops: DropCounter) -> None:
        self.drops = drops
        self.shipper: Shipper = api.configure(config)

    def deliver(self, fields: dict[str, Any]) -> bool:
        """Append one event (wire fields, ``type`` among them); False once counted as dropped."""
        kind = fields.pop("type")
        try:
            api.emit(kind, **fields)
        except BufferUnavailableError as exc:  # first: a fleet's unreachable cluster is a BufferFullError too
            self.drops("store_unavailable", str(exc))
        except BufferFullError as exc:
            self.drops("store_full", str(exc))
        except BufferError as exc:
            self.drops("store_unavailable", str(exc))
        except ValidationError:
            self.drops("invalid")
        else:
            return True
        return False

    def close(self, timeout: float = 10.0) -> None:
        try:
            current = api.get_shipper()
        except Exception:
            return
        if current is self.shipper:  # an app that configured another shipper since keeps it
            api.shutdown(timeout)
