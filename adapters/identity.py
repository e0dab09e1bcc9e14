"""The user identity every destination shows: id, email, and a stable name for distinct-user counts.

A failure that carries only an email (``login.invalid_email``) has no user id, so rules counting
distinct ``user.id`` / ``usr.id`` undercount a credential-stuffing run. Every destination therefore
also gets a name: the email, else the user id (Elastic's IdP integrations fill ``user.name`` with
the login the same way). The values are the event's as the sink's PII policy left them, so a
hashed email gives a hashed, still stable, name.
"""

from __future__ import annotations

from typing import Any

from shippers.event import Event


def user_name(event: Event) -> str | None:
    """The stable identity of the event's user: the email, else the user id (None when neither is known)."""
    return event.email if event.email is not None else event.userId


def user_fields(event: Event) -> dict[str, Any] | None:
    """``{"id", "email", "name"}`` with what is known (ECS ``user`` and Datadog ``usr`` share these names)."""
    name = user_name(event)
    if name is None:
        return None
    fields: dict[str, Any] = {}
    if event.userId is not None:
        fields["id"] = event.userId
    if event.email is not None:
        fields["email"] = event.email
    fields["name"] = name
    return fields
