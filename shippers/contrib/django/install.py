"""Build the integration from Django's settings, connect the signals, and rebuild on override_settings.

One integration per settings: ``install()`` runs in the app's ``ready()`` and again whenever
``AUTHLOG`` or ``AUTHLOG_INTEGRATION`` change (Django's ``setting_changed``: tests'
``override_settings``). The dotted paths of ``events`` are resolved here: a ``Signal`` gets a
receiver, anything else is a view for :mod:`shippers.contrib.django.middleware`. A path that does
not import is a problem, logged and listed by ``manage.py check``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import request_started, setting_changed
from django.dispatch import Signal

from shippers.contrib.django import receivers, users
from shippers.contrib.helpers import AuthEvents
from shippers.contrib.integration import Integration, Plumbing, import_dotted
from shippers.contrib.settings import AUTHLOG_KEY, INTEGRATION_KEY

log = logging.getLogger("shippers.contrib")

_lock = threading.Lock()
_current: Integration | None = None
_views: dict[int, tuple[Any, str]] = {}  # id(view object) -> (the object, catalog type)
_signals: list[tuple[Signal, str]] = []  # (signal, dispatch uid) connected for the current settings
_target_problems: list[str] = []
_plumbing: Plumbing | None = None


def base_dir() -> Path:
    """Where relative paths in the settings resolve: BASE_DIR when the project defines it, else the working folder."""
    return Path(getattr(settings, "BASE_DIR", None) or Path.cwd())


def install(plumbing: Plumbing | None = None) -> Integration:
    """(Re)build the integration from the current settings; ``plumbing`` is for tests (kept for later rebuilds)."""
    global _current, _plumbing
    with _lock:
        if plumbing is not None:
            _plumbing = plumbing
        integration = Integration.from_settings(getattr(settings, AUTHLOG_KEY, None), getattr(settings, INTEGRATION_KEY, None),
                                                base_dir=base_dir(), plumbing=_plumbing)
        previous, _current = _current, integration
        _connect_targets(integration)
        receivers.connect(events_for, _count_failure)
    if previous is not None:
        previous.close()
    return integration


def _connect_targets(integration: Integration) -> None:
    for signal, uid in _signals:
        signal.disconnect(dispatch_uid=uid)
    _signals.clear()
    _views.clear()
    _target_problems.clear()
    for path, kind in integration.event_map.targets.items():
        try:
            target = import_dotted(path)
        except (ImportError, AttributeError) as exc:
            problem = f"{INTEGRATION_KEY}.events.{path}: cannot import it ({type(exc).__name__}: {exc})"
            _target_problems.append(problem)
            log.error("authlog: %s", problem)
            continue
        if isinstance(target, Signal):
            uid = f"authlog:{path}"
            target.connect(receivers.project_signal(kind), weak=False, dispatch_uid=uid)
            _signals.append((target, uid))
        else:
            _views[id(target)] = (target, kind)


def current() -> Integration:
    if _current is None:  # the app was not in INSTALLED_APPS, or ready() has not run
        return install()
    return _current


def target_problems() -> list[str]:
    return list(_target_problems)


def mapped_view(view: Any) -> str | None:
    """The catalog type the project mapped this view (function or class) to, if any."""
    found = _views.get(id(view))
    return found[1] if found is not None and found[0] is view else None


def facts_of(integration: Integration, request: Any) -> Any:
    meta = getattr(request, "META", None) or {}
    return integration.facts(request, ip=meta.get("REMOTE_ADDR"), user_agent=meta.get("HTTP_USER_AGENT"),
                             traceparent=meta.get("HTTP_TRACEPARENT"))


def events_for(request: Any) -> AuthEvents:
    integration = current()
    return AuthEvents(integration, facts_of(integration, request), users.by_username)


def _count_failure(kind: str) -> None:
    current().drops("internal_error", kind)


def _on_setting_changed(setting: str, **_: Any) -> None:
    if setting in (AUTHLOG_KEY, INTEGRATION_KEY, "BASE_DIR"):
        install()


def _on_request_started(**_: Any) -> None:
    try:
        current().start()  # this process's runtime, after any fork, before the first event needs it
    except Exception as exc:  # never into the request
        log.warning("authlog: starting the integration failed (%s)", type(exc).__name__)


setting_changed.connect(_on_setting_changed, dispatch_uid="authlog:setting_changed")
request_started.connect(_on_request_started, dispatch_uid="authlog:request_started")
