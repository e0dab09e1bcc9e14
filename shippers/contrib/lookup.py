"""An app's own user lookup (Flask, Starlette: no user model to ask) turned into the failed-login lookup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shippers.contrib.failed_login import KnownUser, UserLookup


def as_known(found: Any) -> KnownUser | None:
    """What an app's lookup returned (None, a KnownUser, or its user object) as a KnownUser."""
    if found is None or found is False:
        return None
    if isinstance(found, KnownUser):
        return found
    get_id = getattr(found, "get_id", None)  # Flask-Login's UserMixin
    user_id = get_id() if callable(get_id) else getattr(found, "id", None)
    return KnownUser(user_id, getattr(found, "email", None))


def user_lookup(find: Callable[[str], Any] | None) -> UserLookup | None:
    """``find(username)`` -> the user or None, wrapped to answer with a KnownUser."""
    if find is None:
        return None
    return lambda username: as_known(find(username))
