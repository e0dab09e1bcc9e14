"""``AuthlogMiddleware``: ships what happens in views, where Django has no signal (password reset, your own views).

``MIDDLEWARE += ["shippers.contrib.django.middleware.AuthlogMiddleware"]``, anywhere after
``AuthenticationMiddleware``. A view counts as done when it answers a POST with a redirect (a form
that was accepted, Django's post/redirect/get); so:

- ``PasswordResetView`` -> ``password_reset_requested`` (``password_reset.email_sent``) when an
  active user has the email typed (Django sends no email otherwise, so neither do we ship one);
- ``PasswordResetConfirmView`` -> ``password_reset_completed`` on the redirect, and
  ``password_reset_failed`` when it answers the POST with the form again (the new password refused);
- a view the project maps in ``events`` by dotted path -> its type, with the logged-in user if any.

The middleware reads only ``email`` from a password-reset form, never a password field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import PasswordResetConfirmView, PasswordResetView
from django.utils.http import urlsafe_base64_decode

from shippers.contrib.django import users
from shippers.contrib.django.install import current, events_for, mapped_view

log = logging.getLogger("shippers.contrib")

_VIEW = "_authlog_view"


def _accepted(request: Any, response: Any) -> bool:
    return request.method == "POST" and 300 <= response.status_code < 400


class AuthlogMiddleware:
    """See the module docstring."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if request.method == "POST" and hasattr(request, _VIEW):
            try:
                self._ship(request, response, *getattr(request, _VIEW))
            except Exception as exc:  # never into the request
                current().drops("internal_error", type(exc).__name__)
        return response

    def process_view(self, request: Any, view_func: Any, view_args: Any, view_kwargs: Any) -> None:
        setattr(request, _VIEW, (getattr(view_func, "view_class", view_func), view_func, dict(view_kwargs)))

    def _ship(self, request: Any, response: Any, view: Any, func: Any, kwargs: dict[str, Any]) -> None:
        kind = mapped_view(view) or mapped_view(func)
        if kind is not None:
            if _accepted(request, response):
                events_for(request).emit(kind, **users.id_and_email(getattr(request, "user", None)))
            return
        if isinstance(view, type) and issubclass(view, PasswordResetView) and _accepted(request, response):
            email = request.POST.get("email")
            found = users.active_by_email(email) if isinstance(email, str) and email else None
            if found is not None:
                events_for(request).password_reset_requested(user_id=found.user_id, email=found.email)
        elif isinstance(view, type) and issubclass(view, PasswordResetConfirmView):
            user_id = _user_id(kwargs.get("uidb64"))
            if _accepted(request, response):
                events_for(request).password_reset_completed(user_id=user_id)
            elif response.status_code == 200:
                events_for(request).password_reset_failed(user_id=user_id)


def _user_id(uidb64: Any) -> str | None:
    """The user id in a password-reset link (the view has already checked it against the token)."""
    if not isinstance(uidb64, str) or len(uidb64) > 64:
        return None
    try:
        return urlsafe_base64_decode(uidb64).decode()
    except (ValueError, UnicodeDecodeError):
        return None
