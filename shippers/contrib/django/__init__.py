"""Django: ``INSTALLED_APPS += ["shippers.contrib.django"]`` and an ``AUTHLOG`` setting ship the auth signals.

::

    AUTHLOG = {"config": "/etc/authlog.toml"}              # or the keys of authlog.toml as a dict
    AUTHLOG_INTEGRATION = {"events": {"logout": "session.logout"}}   # optional: shippers.contrib.settings
    MIDDLEWARE += ["shippers.contrib.django.middleware.AuthlogMiddleware"]   # optional: password reset, your views

What is shipped, with ip, user agent, trace id (``traceparent``), user id, email and tenant:

- ``user_logged_in`` -> ``login.completed``; ``user_login_failed`` -> ``login.invalid_email`` or
  ``login.invalid_password`` by one lookup of the username (only the username is read from
  ``credentials``, never the password); ``user_logged_out`` -> your ``logout`` type, if mapped;
- with the middleware: Django's ``PasswordResetView`` (a reset email sent to a known user) and
  ``PasswordResetConfirmView`` (the new password set, or refused) -> ``password_reset.*``, and the
  views you map in ``events`` by dotted path, shipped when they answer a POST with a redirect;
- the signals you map in ``events`` by dotted path (their ``request``/``user`` arguments are used);
- anything else through the helpers: ``shippers.contrib.django.events(request).login_failed(email=...)``.

``manage.py check`` lists every problem of both settings by key. Nothing opens at import: the
store (or the sidecar client and spool) opens in the process that serves, at its first request,
or in gunicorn's ``post_fork`` (``from shippers.contrib.gunicorn import post_fork`` in gunicorn.conf.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shippers.contrib.helpers import AuthEvents
    from shippers.contrib.integration import Integration


def get_integration() -> Integration:
    """The integration built from the current settings (by the app's ready(), again on override_settings)."""
    from shippers.contrib.django import install

    return install.current()


def events(request: Any = None) -> AuthEvents:
    """The explicit helpers bound to ``request`` (ip, user agent, trace id, tenant) and the user model's lookup."""
    from shippers.contrib.django import install

    return install.events_for(request)
