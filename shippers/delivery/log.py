"""The logger of a sink's delivery: one name, ``shippers.worker``, whichever layer speaks (users and tests filter on it)."""

from __future__ import annotations

import logging

log = logging.getLogger("shippers.worker")
