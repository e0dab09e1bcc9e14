"""The user model's side: who a username or an email belongs to, and a user's id and email."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from shippers.contrib import facts
from shippers.contrib.failed_login import KnownUser


def email_of(user: Any) -> str | None:
    """The user's email (the model's EMAIL_FIELD), if it has one."""
    try:
        value = getattr(user, user.get_email_field_name(), None)
    except Exception:  # an object without the AbstractBaseUser API
        value = getattr(user, "email", None)
    return value if isinstance(value, str) and value else None


def id_and_email(user: Any) -> dict[str, Any]:
    """The helpers' user_id and email of a (possibly anonymous, possibly None) user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    return {"user_id": getattr(user, "pk", None), "email": email_of(user)}


def by_username(username: str) -> KnownUser | None:
    """The failed-login lookup: the user whose natural key (USERNAME_FIELD) is ``username``, else, for an
    email-shaped one, the user with that email (projects whose backend logs in by email)."""
    model = get_user_model()
    try:
        user = model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        field = model.get_email_field_name()
        if field == model.USERNAME_FIELD or facts.email(username) is None:
            return None
        user = model._default_manager.filter(**{f"{field}__iexact": username}).first()
        if user is None:
            return None
    return KnownUser(user.pk, email_of(user))


def username_of(credentials: Any) -> Any:
    """The one credential user_login_failed is read for: the username (never the password)."""
    if not isinstance(credentials, dict):
        return None
    field = get_user_model().USERNAME_FIELD
    for key in (field, "username", "email"):
        value = credentials.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def active_by_email(email: str) -> KnownUser | None:
    """The active user a password-reset email goes to (as Django's PasswordResetForm finds them), if any."""
    model = get_user_model()
    field = model.get_email_field_name()
    user = model._default_manager.filter(**{f"{field}__iexact": email, "is_active": True}).first()
    return None if user is None else KnownUser(user.pk, email_of(user))
