"""A dead letter as every store shows it: decoded, personal fields withheld while it is stored raw, undecodable ones withheld whole."""

from __future__ import annotations

import msgspec

from shippers.buffer.records import UNDECODABLE_TAG, DeadLetter, withheld_body
from shippers.event import Event, decode_event

# What a dead letter stored raw (schema 1, sink no longer configured) is shown without.
PERSONAL_FIELDS = ("email", "ip", "userAgent")
WITHHELD = "[withheld]"


def decode_letter(body: bytes, pii: str | None) -> Event | None:
    """A dead letter's event; None when it is tagged undecodable or its body does not decode."""
    if pii == UNDECODABLE_TAG:
        return None
    try:
        return decode_event(body)
    except Exception:
        return None


def shown_letter(letter_id: int, sink: str, seq: int, code: str, reason: str, at: float, body: bytes, pii: str | None) -> DeadLetter:
    """A dead letter as read; one still stored raw (its sink's policy unknown) is shown without personal fields.

    One whose body does not decode is withheld whole (no policy can be applied to it): only its length and hash.
    """
    event = decode_letter(body, pii)
    if event is None:
        return DeadLetter(letter_id, sink, seq, code, reason, at, None, pii, withheld_body(bytes(body)))
    if pii is None:
        for value in filter(None, (getattr(event, f) for f in PERSONAL_FIELDS)):
            reason = reason.replace(value, WITHHELD)
        event = msgspec.structs.replace(event, **dict.fromkeys(PERSONAL_FIELDS))
    return DeadLetter(letter_id, sink, seq, code, reason, at, event, pii)
