"""Flask: ``AuthLog(app)`` (or ``authlog.init_app(app)``) ships Flask-Login's signals and offers the helpers.

::

    app.config["AUTHLOG"] = {"config": "/etc/authlog.toml"}     # or the keys of authlog.toml as a dict
    app.config["AUTHLOG_INTEGRATION"] = {"events": {"logout": "session.logout"}}   # optional
    authlog = AuthLog(app, user_lookup=lambda name: User.query.filter_by(email=name).first())

    authlog.login_failed(email=form.email.data)     # Flask-Login has no signal for a failed login
    authlog.password_reset_completed(user_id=user.id)

Flask-Login's ``user_logged_in`` -> ``login.completed`` and ``user_logged_out`` -> your ``logout``
type, if mapped (when Flask-Login is installed; without it, the helpers alone). The helpers are the
same as every framework's (:mod:`shippers.contrib.helpers`), bound to the current request (ip,
user agent, ``traceparent``, tenant). ``user_lookup(username)`` returns the user (or None): it lets
a failed login be told apart as invalid_email / invalid_password. Relative paths in the settings
resolve against ``app.root_path``. The store or sidecar client opens in the process that serves,
at its first request (or gunicorn's ``post_fork``: :mod:`shippers.contrib.gunicorn`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request
from prometheus_client import CollectorRegistry

from shippers.contrib.facts import NO_REQUEST, RequestFacts
from shippers.contrib.failed_login import UserLookup
from shippers.contrib.helpers import AuthEvents, Helpers
from shippers.contrib.integration import Integration, Plumbing
from shippers.contrib.lookup import user_lookup as wrap_lookup
from shippers.contrib.settings import AUTHLOG_KEY, INTEGRATION_KEY

log = logging.getLogger("shippers.contrib")
EXTENSION = "authlog"  # app.extensions[EXTENSION]: the app's Integration
HELPERS = "authlog.helpers"  # app.extensions[HELPERS]: the AuthLog that init_app'ed it last


class AuthLog(Helpers):
    """The Flask extension; see the module docstring."""

    def __init__(self, app: Flask | None = None, *, user_lookup: Callable[[str], Any] | None = None,
                 registry: CollectorRegistry | None = None, plumbing: Plumbing | None = None) -> None:
        self._lookup: UserLookup | None = wrap_lookup(user_lookup)
        self._registry = registry
        self._plumbing = plumbing
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> Integration:
        integration = Integration.from_settings(app.config.get(AUTHLOG_KEY), app.config.get(INTEGRATION_KEY),
                                                base_dir=Path(app.root_path), registry=self._registry, plumbing=self._plumbing)
        app.extensions[EXTENSION] = integration
        app.extensions[HELPERS] = self
        app.before_request(self._start)
        self._connect_flask_login(app)
        return integration

    def integration(self) -> Integration:
        """The current app's integration."""
        return current_app.extensions[EXTENSION]

    def events(self) -> AuthEvents:
        """The helpers bound to the current request (the extension's own methods do the same)."""
        integration, facts, lookup = self._bound()
        return AuthEvents(integration, facts, lookup)

    def _bound(self) -> tuple[Integration, RequestFacts, UserLookup | None]:
        integration = self.integration()
        if not has_request_context():
            return integration, NO_REQUEST, self._lookup
        facts = integration.facts(request, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"),
                                  traceparent=request.headers.get("traceparent"))
        return integration, facts, self._lookup

    def _start(self) -> None:
        try:
            self.integration().start()
        except Exception as exc:  # never into the request
            log.warning("authlog: starting the integration failed (%s)", type(exc).__name__)

    def _connect_flask_login(self, app: Flask) -> None:
        try:
            from flask_login import user_logged_in, user_logged_out
        except ImportError:  # Flask-Login is optional: the helpers still work
            return
        # Module-level receivers: connecting one twice is a no-op, so init_app twice never ships twice.
        user_logged_in.connect(_logged_in, app)
        user_logged_out.connect(_logged_out, app)


def _extension() -> AuthLog:
    return current_app.extensions[HELPERS]


def _logged_in(sender: Any, user: Any = None, **_: Any) -> None:
    _extension().login_completed(**_user_fields(user))


def _logged_out(sender: Any, user: Any = None, **_: Any) -> None:
    _extension().logout(**_user_fields(user))


def _user_fields(user: Any) -> dict[str, Any]:
    """user_id and email of a Flask-Login user (get_id(), .email)."""
    if user is None:
        return {}
    get_id = getattr(user, "get_id", None)
    return {"user_id": get_id() if callable(get_id) else None, "email": getattr(user, "email", None)}
