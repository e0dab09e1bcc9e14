"""Receivers of Django's auth signals (and of the project's mapped signals): each one never raises.

``user_login_failed`` passes every credential the form held (Django masks the password's value,
but not every project's backend does): only the username is read (:func:`users.username_of`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from shippers.contrib.django import users

log = logging.getLogger("shippers.contrib")


# Set by connect(): how to reach the current settings' helpers and drop counter (install.py owns them).
_events_for: Callable[[Any], Any] | None = None
_count_failure: Callable[[str], None] | None = None


def _guarded(receive: Callable[..., None]) -> Callable[..., None]:
    def receiver(sender: Any, **kwargs: Any) -> None:
        try:
            receive(**kwargs)
        except Exception as exc:  # a receiver's exception would break the login itself
            if _count_failure is not None:
                _count_failure(type(exc).__name__)

    receiver.__name__ = receive.__name__
    return receiver


def _events(request: Any) -> Any:
    assert _events_for is not None, "connect() runs before any receiver is connected"
    return _events_for(request)


@_guarded
def logged_in(request: Any = None, user: Any = None, **_: Any) -> None:
    _events(request).login_completed(**users.id_and_email(user))


@_guarded
def login_failed(credentials: Any = None, request: Any = None, **_: Any) -> None:
    _events(request).login_failed(username=users.username_of(credentials))


@_guarded
def logged_out(request: Any = None, user: Any = None, **_: Any) -> None:
    _events(request).logout(**users.id_and_email(user))


def project_signal(kind: str) -> Callable[..., None]:
    """A receiver shipping ``kind`` for one of the project's signals (its request / user / user_id / email kwargs)."""

    @_guarded
    def mapped(request: Any = None, user: Any = None, user_id: Any = None, email: Any = None, **_: Any) -> None:
        fields = users.id_and_email(user)
        fields.setdefault("user_id", user_id)
        if email is not None:
            fields["email"] = email
        _events(request).emit(kind, user_id=fields.get("user_id"), email=fields.get("email"))

    return mapped


def connect(events_for: Callable[[Any], Any], count_failure: Callable[[str], None]) -> None:
    """Connect the built-in receivers (idempotent: dispatch uids); ``events_for(request)`` gives the helpers."""
    global _events_for, _count_failure
    _events_for, _count_failure = events_for, count_failure
    user_logged_in.connect(logged_in, dispatch_uid="authlog:user_logged_in")
    user_login_failed.connect(login_failed, dispatch_uid="authlog:user_login_failed")
    user_logged_out.connect(logged_out, dispatch_uid="authlog:user_logged_out")
