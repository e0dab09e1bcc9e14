"""The bulk answer's common shape, decoded into structs the garbage collector does not track.

A ``_bulk`` of 1000 creates answers (with :data:`~adapters.elasticsearch.transport.BULK_FILTER_PATH`)
``{"errors":false,"items":[{"create":{"status":201}}, ...]}``: decoded as plain JSON that is ~3,000
dicts, each tracked by the collector, and in the fan-out these answers set off most of the sidecar's
collections (measured: ~320 young collections per 100k events, and the full ones they promote to).
:func:`decode` reads an answer of exactly that shape (every item a ``create`` carrying only its
``status``, nothing else anywhere) into :class:`CreatedAnswer`, ``gc=False`` structs: one tracked
list per answer. Any other JSON (an item with an ``error``, another action, a template's
acknowledgement, an error body) fails that strict decode and is decoded as plain JSON, as before;
:mod:`.classify` reads both to the same verdicts (a test proves it on answers of every kind).
"""

from __future__ import annotations

from typing import Any

import msgspec


class Created(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """``{"status": 201}``: an item's result holding its status alone."""

    status: int


class CreateItem(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """``{"create": {...}}``: one item of the answer."""

    create: Created


class CreatedAnswer(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False, omit_defaults=True):
    """The whole answer: ``errors`` (read by nobody: only each item's own status acknowledges it) and the items."""

    items: list[CreateItem]
    errors: Any = None


_strict = msgspec.json.Decoder(CreatedAnswer)
_plain = msgspec.json.decode


def decode(data: bytes | str) -> CreatedAnswer | Any:
    """The answer as :class:`CreatedAnswer` when it has the common shape, else as plain JSON (msgspec's
    DecodeError, a ValueError, for bytes that are not JSON)."""
    try:
        return _strict.decode(data)
    except msgspec.ValidationError:  # valid JSON of another shape
        return _plain(data)


def plain(body: Any) -> Any:
    """``body`` as plain JSON values (a :class:`CreatedAnswer` turned back into dicts and lists)."""
    return msgspec.to_builtins(body) if isinstance(body, CreatedAnswer) else body
