"""Per-sink PII policy: keep, hash (HMAC-SHA256), mask or drop ``email``, ``ip`` and ``userAgent``.

Applied by the core to the canonical event before an adapter maps it, so every destination
gets the same treatment and no adapter has to remember it. ``hash`` uses a keyed HMAC so a
value cannot be recovered by hashing a dictionary of candidate emails or the IPv4 space.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable

import msgspec

from shippers.config import PiiConfig
from shippers.event import Event

# Why: keep the network, hide the host: /24 for IPv4 and /48 for IPv6 still tell an analyst
# which provider or office a login came from.
IPV4_MASK_PREFIX = 24
IPV6_MASK_PREFIX = 48
MASK = "***"


def _hasher(key: str) -> Callable[[str], str]:
    secret = key.encode()

    def hash_value(value: str) -> str:
        return "hmac-sha256:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()

    return hash_value


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}{MASK}@{domain}"


def mask_ip(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    prefix = IPV4_MASK_PREFIX if address.version == 4 else IPV6_MASK_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def make_policy(config: PiiConfig) -> Callable[[Event], Event] | None:
    """A function applying the policy, or None when every field is kept (the fast path)."""
    if config.email == config.ip == config.user_agent == "keep":
        return None
    hash_value = _hasher(config.hash_key or "")
    maskers = {"email": mask_email, "ip": mask_ip, "userAgent": lambda _: MASK}
    actions = {"email": config.email, "ip": config.ip, "userAgent": config.user_agent}

    def apply(event: Event) -> Event:
        changes: dict[str, str | None] = {}
        for field, action in actions.items():
            value = getattr(event, field)
            if value is None or action == "keep":
                continue
            if action == "drop":
                changes[field] = None
            elif action == "hash":
                changes[field] = hash_value(value)
            else:
                changes[field] = maskers[field](value)
        return msgspec.structs.replace(event, **changes) if changes else event

    return apply
