"""A failed login becomes ``login.invalid_email`` or ``login.invalid_password`` by one lookup of the username.

The catalog tells the two apart ("Could not find email in users list" / "The password entered does
not match"), frameworks do not: Django's ``user_login_failed`` says only that authentication failed.
So the integration asks the app's user store once, for failed logins only: a known username is a
wrong password (the event carries that user's id and email), an unknown one an invalid email.

What is never used: the password, or any credential but the username (Django passes every
credential to the signal). A username that is not email-shaped is not shipped (users type their
password into the wrong box); one longer than any email can be is not even looked up: nobody has
it, so it is an invalid email at no cost (a megabyte-long username costs the attacker, not the database).
With the lookup turned off, or none available, the mapped ``login_failed`` type is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shippers.contrib import facts
from shippers.contrib.moments import INVALID_EMAIL, INVALID_PASSWORD
from shippers.event import MAX_EMAIL_CHARS

log = logging.getLogger("shippers.contrib")

# Why: no login name is longer than an email address may be; a longer one belongs to nobody.
MAX_LOOKUP_CHARS = MAX_EMAIL_CHARS


@dataclass(frozen=True)
class KnownUser:
    """Who a username belongs to (either may be unknown)."""

    user_id: Any = None
    email: str | None = None


# username -> the user it belongs to, or None when it belongs to nobody.
UserLookup = Callable[[str], KnownUser | None]


def classify(username: Any, lookup: UserLookup | None, fallback_type: str) -> tuple[str, dict[str, Any]]:
    """The type and the fields of a failed login for ``username`` (see the module docstring)."""
    attempted = facts.email(username)
    if lookup is None:
        return fallback_type, {"email": attempted}
    if not isinstance(username, str) or not username.strip() or len(username) > MAX_LOOKUP_CHARS:
        return INVALID_EMAIL, {}
    try:
        found = lookup(username)
    except Exception as exc:  # the user store failed: ship what is known, never raise into the login
        log.debug("authlog: the failed-login lookup raised %s; shipping the mapped login_failed type", type(exc).__name__)
        return fallback_type, {"email": attempted}
    if found is None:
        return INVALID_EMAIL, {"email": attempted}
    return INVALID_PASSWORD, {"userId": facts.identifier(found.user_id), "email": facts.email(found.email) or attempted}
