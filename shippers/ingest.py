"""Ingest without a Shipper around it: validate items, commit the valid ones (what a request costs).

The Shipper validates and commits through these functions, and so does the sidecar's ingest
process (:mod:`shippers.sidecar.ingest_child`), which has a validator and the store but no sinks:
one place says what "accepted" means, whichever process does the work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from shippers.buffer import Buffer
from shippers.catalog import HintBudget
from shippers.errors import ValidationError
from shippers.event import Event, EventValidator, encode_event, unexpected_rejection


@dataclass
class IngestResult:
    """What happened to one ingest request: how many were committed, which were rejected and why."""

    accepted: int
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0  # accepted events the store already held (by event id): a resend, counted inside accepted


@dataclass
class Validated:
    """Items that passed validation (with their stored bytes) and the ones that did not.

    An accepted Event has ``details = None``: its line (the stored bytes) carries them.
    """

    accepted: list[tuple[Event, bytes]]
    rejected: list[tuple[int, str]]


def validate_items(
    validator: EventValidator, items: Sequence[bytes], now: float, *, start: int = 0, into: Validated | None = None
) -> tuple[Validated, Counter[str]]:
    """Validate each item (no I/O); the result (``into`` extended in place, if given) and the rejection reasons counted.

    ``start`` is the index of ``items[0]`` in its request, so a request validated in turns gets the
    indices a single call would give.
    """
    accepted: list[tuple[Event, bytes]] = [] if into is None else into.accepted
    rejected: list[tuple[int, str]] = [] if into is None else into.rejected
    reasons: Counter[str] = Counter()
    decode = validator.decode
    hints = HintBudget()  # bounds the difflib work of one call, whatever the items
    for index, item in enumerate(items, start):
        try:
            event = decode(item, now, hints)
            line = encode_event(event)
            # The line holds the details; they are most of an event's Python objects, and millions of
            # them kept until the commit made garbage-collection passes stall the event loop.
            event.details = None
        except ValidationError as exc:
            rejected.append((index, str(exc)))
            reasons[exc.reason] += 1
            continue
        except Exception as exc:  # last resort: one item never costs the request (logged by type only)
            failure = unexpected_rejection(exc)
            rejected.append((index, str(failure)))
            reasons[failure.reason] += 1
            continue
        accepted.append((event, line))
    return (Validated(accepted, rejected) if into is None else into), reasons


def append_validated(buffer: Buffer, accepted: Sequence[tuple[Event, bytes]]) -> tuple[Counter[tuple[str, str]], int]:
    """Commit the accepted events in one transaction (raises the store's errors); the count by (type, outcome), and how
    many of them the store already held (a resend, acknowledged as a duplicate)."""
    if not accepted:
        return Counter(), 0
    _, duplicates = buffer.append_deduplicated(accepted)
    return Counter((event.type, event.outcome) for event, _ in accepted), duplicates
