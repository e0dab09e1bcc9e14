"""Django: configure the shipper from settings and ship auth signals through the logging handler.

Add to settings.py (the dict has the same keys as authlog.toml)::

    AUTHLOG = {
        "buffer": {"path": BASE_DIR / "var" / "authlog"},
        "sinks": {"siem": {"type": "elasticsearch", "hosts": [os.environ["ES_URL"]],
                           "api_key": os.environ["ES_API_KEY"], "index": "authlog-events"}},
    }
    LOGGING = {
        "version": 1,
        "handlers": {"authlog": {"class": "shippers.AuthEventHandler"}},
        "loggers": {"myapp.auth": {"handlers": ["authlog"], "level": "INFO"}},
    }

and this module's ``ready()`` code to an AppConfig of yours.
"""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed

import shippers

log = logging.getLogger("myapp.auth")


class AuthlogConfig(AppConfig):
    name = "myapp"

    def ready(self) -> None:
        shippers.configure(settings.AUTHLOG)
        user_logged_in.connect(on_login)
        user_login_failed.connect(on_login_failed)


def _client(request: object) -> dict[str, str | None]:
    meta = getattr(request, "META", {})
    return {"ip": meta.get("REMOTE_ADDR"), "userAgent": meta.get("HTTP_USER_AGENT")}


def on_login(sender: object, request: object, user: object, **_: object) -> None:
    log.info("login", extra={"auth_event": {"type": "login.completed", "userId": str(user.pk), **_client(request)}})  # type: ignore[attr-defined]


def on_login_failed(sender: object, credentials: dict[str, str], request: object = None, **_: object) -> None:
    email = credentials.get("username") or credentials.get("email")
    event = {"type": "login.invalid_password", **_client(request)}
    if email and "@" in email:
        event["email"] = email
    log.info("login failed", extra={"auth_event": event})
