"""The explicit helpers, the same in every framework, for moments a framework has no signal for.

::

    events.login_failed(email=form.email)          # -> login.invalid_email / login.invalid_password
    events.password_reset_completed(user_id=user.id)
    events.emit("magic_link.failed", reason="expired", user_id=uid)   # any catalog type

Django: ``shippers.contrib.django.events(request)``; Flask: the ``AuthLog`` extension itself
(``authlog.login_failed(...)``, bound to the current request); FastAPI / Starlette: the
``Depends(authlog.events)`` dependency. Each fills ip, user agent, trace id and tenant from the
request. A helper never raises; it returns True when the event was handed on (stored, posted,
spooled, or still being posted), False when it was not shipped (its moment maps to no type, or it
was counted in ``authlog_app_dropped_total``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shippers.contrib.facts import RequestFacts
from shippers.contrib.failed_login import UserLookup
from shippers.contrib.integration import Integration

Details = Mapping[str, Any] | None


class Helpers:
    """The helper methods; a subclass says which integration, request facts and user lookup they use."""

    def _bound(self) -> tuple[Integration, RequestFacts, UserLookup | None]:
        raise NotImplementedError

    def _moment(self, moment: str, **fields: Any) -> bool:
        integration, facts, _ = self._bound()
        return integration.moment(moment, facts, **fields)

    def login_completed(self, *, user_id: Any = None, email: Any = None, tenant_id: Any = None, details: Details = None) -> bool:
        return self._moment("login", user_id=user_id, email=email, tenant_id=tenant_id, details=details)

    def login_failed(self, *, username: Any = None, email: Any = None, user_id: Any = None, details: Details = None) -> bool:
        """A failed login by ``username`` or ``email`` (pass the one the user typed; never the password).

        ``user_id``: the app knows the user (so the password was wrong). Otherwise the user lookup
        decides between invalid_email and invalid_password, where the framework has one.
        """
        integration, facts, lookup = self._bound()
        return integration.failed_login(facts, username=username if username is not None else email, lookup=lookup,
                                        user_id=user_id, details=details)

    def logout(self, *, user_id: Any = None, email: Any = None, tenant_id: Any = None, details: Details = None) -> bool:
        """Shipped only when AUTHLOG_INTEGRATION maps ``logout`` to a type of your [catalog] extra."""
        return self._moment("logout", user_id=user_id, email=email, tenant_id=tenant_id, details=details)

    def signup_completed(self, *, user_id: Any = None, email: Any = None, tenant_id: Any = None, details: Details = None) -> bool:
        return self._moment("signup", user_id=user_id, email=email, tenant_id=tenant_id, details=details)

    def password_reset_requested(self, *, user_id: Any = None, email: Any = None, details: Details = None) -> bool:
        return self._moment("password_reset_requested", user_id=user_id, email=email, details=details)

    def password_reset_completed(self, *, user_id: Any = None, email: Any = None, details: Details = None) -> bool:
        return self._moment("password_reset_completed", user_id=user_id, email=email, details=details)

    def password_reset_failed(self, *, user_id: Any = None, email: Any = None, details: Details = None) -> bool:
        return self._moment("password_reset_failed", user_id=user_id, email=email, details=details)

    def email_verification_sent(self, *, user_id: Any = None, email: Any = None, details: Details = None) -> bool:
        return self._moment("email_verification_sent", user_id=user_id, email=email, details=details)

    def email_verification_completed(self, *, user_id: Any = None, email: Any = None, details: Details = None) -> bool:
        return self._moment("email_verification_completed", user_id=user_id, email=email, details=details)

    def email_verification_failed(self, *, user_id: Any = None, email: Any = None, details: Details = None) -> bool:
        return self._moment("email_verification_failed", user_id=user_id, email=email, details=details)

    def emit(self, type: str, *, user_id: Any = None, email: Any = None, tenant_id: Any = None, reason: str | None = None,
             details: Details = None) -> bool:
        """Any catalog type (magic links and codes, lockouts, policies, your [catalog] extra)."""
        integration, facts, _ = self._bound()
        return integration.ship(type, facts, user_id=user_id, email=email, tenant_id=tenant_id, reason=reason, details=details)


class AuthEvents(Helpers):
    """The helpers bound to one request's facts (and the framework's user lookup, if any)."""

    def __init__(self, integration: Integration, facts: RequestFacts, lookup: UserLookup | None = None) -> None:
        self.integration = integration
        self.facts = facts
        self.lookup = lookup

    def _bound(self) -> tuple[Integration, RequestFacts, UserLookup | None]:
        return self.integration, self.facts, self.lookup
