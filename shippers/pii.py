"""Per-sink PII policy: keep, hash (HMAC-SHA256), mask or drop ``email``, ``ip`` and ``userAgent``.

Applied by the core to the canonical event before an adapter maps it, so every destination
gets the same treatment and no adapter has to remember it. ``hash`` uses a keyed HMAC so a
value cannot be recovered by hashing a dictionary of candidate emails or the IPv4 space.

A sink's dead letters hold the event as that sink sees it (:class:`SinkPii`), tagged with
what was applied (``email=hash:<key id>;ip=mask;userAgent=keep``), so a replay never applies
the policy a second time (a hash of a hash joins with nothing). When the policy changed
between dead-lettering and replay, :meth:`SinkPii.view` lets the current policy win as far
as it can without transforming a value twice (rules in :func:`_reconcile`).

The event's ``enrichment`` (derived at ingest from ``ip`` and ``userAgent``) follows its
sources: the autonomous system is kept where ``ip`` is kept or masked (a /24 or /48 network
names its AS anyway) and dropped where it is hashed or dropped; the geolocation is kept only
where ``ip`` is kept, unless the sink sets ``pii.geo`` (``keep``: city-level location without
the address; ``drop``: never); the parsed user agent is kept only where ``userAgent`` is. Dropping
is idempotent, so every view applies the current rule (a replayed letter included); what was
dropped once cannot come back. Identities a mapping takes from the email (``user.name``) use
the email as the policy left it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable

import msgspec

from shippers.buffer.records import UNDECODABLE_TAG
from shippers.config import PiiConfig
from shippers.enrichment.model import Enrichment, enrichment_of
from shippers.event import Event, decode_event, encode_event

# Why: keep the network, hide the host: /24 for IPv4 and /48 for IPv6 still tell an analyst
# which provider or office a login came from.
IPV4_MASK_PREFIX = 24
IPV6_MASK_PREFIX = 48
MASK = "***"
FIELDS = ("email", "ip", "userAgent")
# Why: 8 hex digits of HMAC(key, a constant) tell hash keys apart in a dead letter's tag
# without revealing the key (like a key check value); a clash only hides a key change.
KEY_ID_HEX = 8
_KEY_ID_MESSAGE = b"authlog pii key id"
# What a text shows instead of a value the sink's policy drops.
WITHHELD = "[withheld]"


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


def _actions(config: PiiConfig) -> dict[str, str]:
    return {"email": config.email, "ip": config.ip, "userAgent": config.user_agent}


def _field_functions(config: PiiConfig) -> dict[str, Callable[[str], str | None]]:
    """One function per field that the policy changes (kept fields are absent)."""
    hash_value = _hasher(config.hash_key or "")
    maskers: dict[str, Callable[[str], str]] = {"email": mask_email, "ip": mask_ip, "userAgent": lambda _: MASK}
    functions: dict[str, Callable[[str], str | None]] = {}
    for field, action in _actions(config).items():
        if action == "drop":
            functions[field] = lambda _: None
        elif action == "hash":
            functions[field] = hash_value
        elif action == "mask":
            functions[field] = maskers[field]
    return functions


EnrichmentFilter = Callable[[Enrichment], Enrichment | None]


def _enrichment_filter(config: PiiConfig) -> EnrichmentFilter | None:
    """What of an event's enrichment the policy lets through (module docstring), or None when all of it."""
    keep_geo = config.geo == "keep" if config.geo is not None else config.ip == "keep"
    keep_as = config.ip in ("keep", "mask")
    keep_user_agent = config.user_agent == "keep"
    if keep_geo and keep_as and keep_user_agent:
        return None

    def allowed(enrichment: Enrichment) -> Enrichment | None:
        geo = enrichment.geo if keep_geo else None
        as_ = enrichment.as_ if keep_as else None
        user_agent = enrichment.userAgent if keep_user_agent else None
        if geo is enrichment.geo and as_ is enrichment.as_ and user_agent is enrichment.userAgent:
            return enrichment
        return enrichment_of(geo, as_, user_agent)

    return allowed


def make_policy(config: PiiConfig) -> Callable[[Event], Event] | None:
    """A function applying the policy, or None when every field is kept (the fast path)."""
    return _policy(_field_functions(config), _enrichment_filter(config), _actions(config))


def _action_name(action: str) -> str:
    """``hash:1a2b3c4d`` -> ``hash``: the event's ``pii`` object names the treatment, not the key."""
    return action.partition(":")[0]


def transformed(event: Event, changed: dict[str, str]) -> dict[str, str] | None:
    """The event's ``pii`` object once ``changed`` ({field: action}) is applied on top of what it already carries."""
    if not changed:
        return event.pii
    merged = dict(event.pii or {})
    merged.update({field: _action_name(action) for field, action in changed.items()})
    return {field: merged[field] for field in FIELDS if field in merged}  # one order for every line


def _policy(
    functions: dict[str, Callable[[str], str | None]], enrichment_filter: EnrichmentFilter | None,
    actions: dict[str, str],
) -> Callable[[Event], Event] | None:
    """make_policy from the field functions, enrichment filter and {field: action} already built (None when nothing changes).

    The result names what it transformed in its ``pii`` object (the archive line carries it: a replay
    of the archive then knows a hashed email is a hash, and never hashes it again).
    """
    if not functions and enrichment_filter is None:
        return None

    def apply(event: Event) -> Event:
        changes: dict[str, object] = {}
        applied: dict[str, str] = {}
        for field, function in functions.items():
            value = getattr(event, field)
            if value is not None:
                changes[field] = function(value)
                applied[field] = actions[field]
        if applied:
            changes["pii"] = transformed(event, applied)
        if enrichment_filter is not None and event.enrichment is not None:
            allowed = enrichment_filter(event.enrichment)
            if allowed is not event.enrichment:
                changes["enrichment"] = allowed
        return msgspec.structs.replace(event, **changes) if changes else event

    return apply


def withhold(event: Event, fields: tuple[str, ...] = FIELDS) -> Event:
    """The event without these personal fields, nor any enrichment (when no policy can be applied to them)."""
    changes: dict[str, object] = {f: None for f in fields if getattr(event, f) is not None}
    if event.enrichment is not None and fields:
        changes["enrichment"] = None
    return msgspec.structs.replace(event, **changes) if changes else event


def scrub(text: str, before: Event, after: Event) -> str:
    """``text`` with every personal value of ``before`` that ``after`` no longer shows replaced by what it shows."""
    for field in FIELDS:
        old, new = getattr(before, field), getattr(after, field)
        if old is not None and old != new and old in text:
            text = text.replace(old, WITHHELD if new is None else new)
    return text


def parse_tag(tag: str) -> dict[str, str]:
    """``email=hash:1a2b3c4d;ip=mask;userAgent=keep`` -> {field: action}; a field it lacks is ``unknown``."""
    applied = dict.fromkeys(FIELDS, "unknown")
    for part in tag.split(";"):
        field, _, action = part.partition("=")
        if field in applied and action:
            applied[field] = action
    return applied


def _reconcile(before: str, now: str) -> str:
    """What a value already treated with ``before`` becomes under the policy ``now`` (``before`` != ``now``).

    - ``keep`` before: the value is raw, so the current action applies (``now``);
    - ``drop`` now, or an unknown treatment under a policy that is not ``keep``: drop;
    - ``hash`` now over a masked value: drop (the mask shows more than a hash may, and a hash
      of a mask would join with nothing);
    - otherwise the value is sent as stored: a hash or mask cannot be undone for ``keep``, a
      hash shows less than a mask, and re-hashing a hash under a new key would join with nothing.
    """
    if before == "keep":
        return now
    if now == "drop" or (before == "unknown" and now != "keep"):
        return "drop"
    if now.startswith("hash") and before == "mask":
        return "drop"
    return before


class SinkPii:
    """A sink's policy as the DLQ and replays need it: the view of an event, its tag, scrubbed texts."""

    def __init__(self, config: PiiConfig | None = None) -> None:
        config = config or PiiConfig()
        self._functions = _field_functions(config)
        self._enrichment = _enrichment_filter(config)
        actions = _actions(config)
        self.transform = _policy(self._functions, self._enrichment, actions)
        key_id = ""
        if config.hash_key and "hash" in actions.values():
            key_id = hmac.new(config.hash_key.encode(), _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:KEY_ID_HEX]
        self.actions = {f: f"hash:{key_id}" if a == "hash" else a for f, a in actions.items()}
        self.tag = format_tag(self.actions)

    def view(self, event: Event, applied: str | None) -> tuple[Event, str]:
        """The event as this sink may see it and the tag of what it now carries.

        ``applied`` is the tag of a dead letter being replayed (None: a raw, producer-sent event).
        """
        if applied is None:
            return (event if self.transform is None else self.transform(event)), self.tag
        event = self._allowed_enrichment(event)  # pii.geo is not in the tag: its current rule applies to every view
        if applied == self.tag:
            return event, applied
        before = parse_tag(applied)
        result: dict[str, str] = {}
        changes: dict[str, object] = {}
        named: dict[str, str] = {}  # {field: outcome} for the event's pii object
        for field in FIELDS:
            result[field] = outcome = before[field] if before[field] == self.actions[field] else _reconcile(before[field], self.actions[field])
            value = getattr(event, field)
            if value is None:
                continue
            if outcome != before[field]:
                changes[field] = None if outcome == "drop" else self._functions[field](value)
                named[field] = outcome
            elif outcome not in ("keep", "unknown") and field not in (event.pii or {}):
                named[field] = outcome  # treated before this object was written (an older dead letter): name it
        if named:
            changes["pii"] = transformed(event, named)
        shown = msgspec.structs.replace(event, **changes) if changes else event
        return shown, format_tag(result)

    def _allowed_enrichment(self, event: Event) -> Event:
        if self._enrichment is None or event.enrichment is None:
            return event
        allowed = self._enrichment(event.enrichment)
        return event if allowed is event.enrichment else msgspec.structs.replace(event, enrichment=allowed)

    def changes_since(self, applied: str) -> list[str]:
        """Fields whose treatment differs between ``applied`` and this policy, as ``ip: mask, now hash (sent: drop)``."""
        before = parse_tag(applied)
        notes = []
        for field in FIELDS:
            old, now = before[field], self.actions[field]
            if old != now:
                notes.append(f"{field}: {old}, now {now} (sent: {_reconcile(old, now)})")
        return notes

    def safe_view(self, event: Event, applied: str | None) -> tuple[Event, str]:
        """:meth:`view`, or when the policy itself fails, the event without the fields it does not keep."""
        try:
            return self.view(event, applied)
        except Exception:
            hidden = tuple(f for f in FIELDS if self.actions[f] != "keep")
            shown = withhold(event, hidden)
            dropped = {f: "drop" for f in hidden if getattr(event, f) is not None}
            if dropped:
                shown = msgspec.structs.replace(shown, pii=transformed(event, dropped))
            if self._enrichment is not None and shown.enrichment is not None:
                shown = msgspec.structs.replace(shown, enrichment=None)
            return shown, format_tag({f: "drop" if f in hidden else a for f, a in self.actions.items()})

    def convert_letter(self, body: bytes, reason: str) -> tuple[bytes, str, str]:
        """A dead letter stored raw (before schema 2) as this sink may see it: (body, reason, tag).

        One that no longer decodes is tagged undecodable (every view withholds it whole), with a
        reason of our own: its old reason may quote what the policy hides, and nothing can scrub it.
        """
        try:
            raw = decode_event(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return body, UNDECODABLE_REASON, UNDECODABLE_TAG
        shown, tag = self.safe_view(raw, None)
        if shown is raw:
            return body, reason, tag
        return encode_event(shown), scrub(reason, raw, shown), tag


UNDECODABLE_REASON = "stored raw by an earlier version and no longer decodes; withheld (no PII policy can be applied to it)"


def format_tag(actions: dict[str, str]) -> str:
    """{field: action} -> ``email=hash:1a2b3c4d;ip=mask;userAgent=keep`` (what :func:`parse_tag` reads)."""
    return ";".join(f"{field}={actions[field]}" for field in FIELDS)
