"""The ``_bulk`` body: one ``create`` action + source pair per event, as NDJSON (pure).

Each item carries its own two lines, so the size the core counts per item is exactly what
the request will carry, and ``http.max_content_length`` (counted before compression) is
respected by keeping the sum of items under ``HARD_LIMITS.max_bytes``::

    {"create":{"_index":"logs-authlog-default","_id":"0193a5e2-..."}}\\n
    {"@timestamp":"...","event":{"id":"0193a5e2-...",...},...}\\n

``create`` (never ``index``) with ``_id`` = the event id makes a resend idempotent: the
second write of an id answers 409 (already there), and data streams accept only
``create``. The transport gzips the body on the wire (the client's ``http_compress``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from adapters.elasticsearch.document import EcsDocument

_encoder = msgspec.json.Encoder()
_encode_lines = _encoder.encode_lines


class _Create(msgspec.Struct, gc=False, rename={"index": "_index", "id": "_id"}):
    """The ``create`` action's target: the index (encoded once per sink) and the document's ``_id``."""

    index: msgspec.Raw
    id: str


class _Action(msgspec.Struct, gc=False):
    """The action line; a Struct so that one ``encode_lines`` call writes both lines (no join of pieces)."""

    create: _Create


def item_encoder(target: str) -> Callable[[EcsDocument], bytes]:
    """The encoder of one target's items (the action line and the source line of a document, each ending
    in a newline), with the target encoded once (hot path)."""
    index = msgspec.Raw(_encoder.encode(target))

    def encode(document: EcsDocument) -> bytes:
        return _encode_lines((_Action(_Create(index, document.event.id)), document))

    return encode


def bulk_body(items: Sequence[bytes]) -> bytes:
    """The whole request body (items already end in newlines, as _bulk requires)."""
    return b"".join(items)


def item_id(item: bytes) -> str:
    """The ``_id`` an encoded item is written under (for messages and tests)."""
    action = msgspec.json.decode(item.split(b"\n", 1)[0])
    return str(action["create"]["_id"])
