"""What goes on the wire to the cluster and back: gzip at a cheap level, msgspec for the JSON answers.

The client's own ``http_compress`` gzips at level 9 (``gzip.compress`` default), which measured
~9.5 µs per ~780-byte event, the single largest cost of a send; zlib level 1 took ~2.6 µs for a
ratio of ~7.8 instead of ~11.3, and ISA-L's fast level (``adapters.compression``, the level every
adapter uses) about a fifth of that. The body is therefore gzipped here and sent with
``content-encoding: gzip``, with the client's own compression off.

The answers (a bulk answer of up to ``max_events`` items) are parsed with msgspec instead of the
standard ``json`` module (msgspec's DecodeError is a ValueError, so the stock ``loads`` still turns a
body that is not JSON into ``SerializationError`` and an empty one into None: the transport's
translation is unchanged); a bulk answer of the common shape (every item created) into structs the
garbage collector does not track (:mod:`.bulk_answer`).
"""

from __future__ import annotations

from typing import Any

from elastic_transport import NdjsonSerializer
from elasticsearch.serializer import (
    CompatibilityModeJsonSerializer,
    CompatibilityModeNdjsonSerializer,
    JsonSerializer,
    Serializer,
)

from adapters.elasticsearch.bulk_answer import decode as _decode

GZIP_HEADERS = {"content-encoding": "gzip"}


class _FastJson(JsonSerializer):
    def json_loads(self, data: bytes) -> Any:  # the stock loads() keeps its empty-body and error handling
        return _decode(data)


class _FastCompatibleJson(CompatibilityModeJsonSerializer):
    def json_loads(self, data: bytes) -> Any:
        return _decode(data)


class VerbatimNdjson(NdjsonSerializer):
    """Send bytes exactly as given: the stock serializer copies them and appends a newline (which breaks a gzip body)."""

    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes):
            return data
        return super().dumps(data)


class _VerbatimCompatibleNdjson(CompatibilityModeNdjsonSerializer):
    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes):
            return data
        return super().dumps(data)


def serializers() -> dict[str, Serializer]:
    """The serializers for every media type either flavor sends or receives."""
    chosen: list[Serializer] = [_FastJson(), _FastCompatibleJson(), VerbatimNdjson(), _VerbatimCompatibleNdjson()]
    return {serializer.mimetype: serializer for serializer in chosen}
