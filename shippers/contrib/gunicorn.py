"""gunicorn's ``post_fork`` hook: start every integration of the app in the new worker.

In ``gunicorn.conf.py``::

    from shippers.contrib.gunicorn import post_fork   # noqa: F401  (gunicorn looks the name up)

Reading the settings opens nothing, so a ``--preload`` master that imported the app holds no store,
socket or thread to hand down; each worker builds its own runtime here (embedded mode: opens the
store, and delivers if it gets the delivery lock; sidecar mode: the client, spool and forwarder)
before it serves its first request. Without the hook the runtime is built by the first event
instead; uwsgi's ``@postfork`` (``uwsgidecorators``) can call :func:`start_after_fork` the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from shippers.contrib.integration import live_integrations

log = logging.getLogger("shippers.contrib")


def start_after_fork() -> int:
    """Start every integration this process knows; returns how many started (settings without problems)."""
    started = 0
    for integration in live_integrations():
        try:
            started += integration.start()
        except Exception as exc:  # one integration that cannot start must not stop the worker (its events count as drops)
            log.error("authlog: starting an integration after the fork failed (%s: %s)", type(exc).__name__, exc)
    return started


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn calls this in each worker just after the fork."""
    start_after_fork()
