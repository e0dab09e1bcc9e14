"""The auth moments an app goes through, and the catalog type each one becomes (``EventMap``).

A *moment* is what happened in the app ("login", "logout", "password_reset_completed"); a catalog
type is what is shipped. ``MOMENTS`` holds the default type of each moment; ``AUTHLOG_INTEGRATION
["events"]`` changes them, turns one off (``None``), or maps one of the project's own signals or
views, named by dotted path, to a type::

    "events": {"logout": "session.logout",                               # a [catalog] extra type
               "password_reset_failed": None,                            # not shipped
               "myapp.signals.email_verified": "email_verification.completed"}

A moment the catalog has no type for (``logout``) has no default: it is shipped only when the
setting maps it to a type of the user's ``[catalog] extra``, never invented. Every type named is
checked against the catalog (built-in and extra) once, when the settings are read.

A failed login is ``login_failed``: the lookup in :mod:`shippers.contrib.failed_login` makes it
``login.invalid_email`` or ``login.invalid_password``; the type mapped here is the one used when
there is no lookup to decide by (turned off, or the framework has no user store).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from shippers.catalog import Catalog

# The moments and their built-in types; None: the catalog has no type for it.
MOMENTS: dict[str, str | None] = {
    "login": "login.completed",
    "login_failed": "login.invalid_password",
    "logout": None,
    "signup": "signup.completed",
    "password_reset_requested": "password_reset.email_sent",
    "password_reset_completed": "password_reset.completed",
    "password_reset_failed": "password_reset.failed",
    "email_verification_sent": "email_verification.sent",
    "email_verification_completed": "email_verification.completed",
    "email_verification_failed": "email_verification.failed",
}
INVALID_EMAIL = "login.invalid_email"
INVALID_PASSWORD = "login.invalid_password"


@dataclass(frozen=True)
class EventMap:
    """Moment -> type (None: not shipped), and the project's own dotted targets -> type."""

    types: Mapping[str, str | None]
    targets: Mapping[str, str]

    def type_for(self, moment: str) -> str | None:
        return self.types.get(moment)


def build_event_map(events: Mapping[str, str | None], catalog: Catalog, where: str) -> tuple[EventMap, list[str]]:
    """The map the settings ask for, checked against ``catalog``; problems name ``where.events.<key>``."""
    types = dict(MOMENTS)
    targets: dict[str, str] = {}
    problems: list[str] = []
    for key, kind in events.items():
        at = f"{where}.events.{key}"
        if "." not in key and key not in MOMENTS:
            match = difflib.get_close_matches(key, MOMENTS, n=1, cutoff=0.6)
            hint = f"did you mean '{match[0]}'?" if match else f"moments: {', '.join(MOMENTS)}"
            problems.append(f"{at}: unknown moment ({hint}); a signal or view is named by its dotted path")
            continue
        if kind is None:
            if "." in key:
                problems.append(f"{at}: a dotted path maps to a catalog type; leave it out to not ship it")
            else:
                types[key] = None
            continue
        entry = catalog.get(kind)
        if entry is None:
            hint = catalog.closest(kind)
            problems.append(f"{at}: {kind!r} is not in the catalog"
                            + (f" (did you mean '{hint}'?)" if hint else "; `authlog catalog` lists the types, "
                               "and [catalog] extra adds your own"))
            continue
        if "." not in key and MOMENTS[key] is None and entry.source != "extra":
            problems.append(f"{at}: the catalog has no type for {key!r}, so it maps only to a type of your "
                            f"[catalog] extra, not the built-in {kind!r}")
            continue
        if "." in key:
            targets[key] = kind
        else:
            types[key] = kind
    return EventMap(types, targets), problems
