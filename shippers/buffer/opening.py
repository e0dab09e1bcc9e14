"""Which :class:`~shippers.buffer.protocol.Buffer` a ``[buffer]`` section opens: the one place that names an implementation."""

from __future__ import annotations

from collections.abc import Callable

from shippers.buffer.protocol import Buffer
from shippers.buffer.sqlite import SqliteBuffer
from shippers.config import BufferConfig
from shippers.config_buffer import max_bytes_of


def open_buffer(config: BufferConfig, *, clock: Callable[[], float]) -> Buffer:
    """Open (or create) the store ``config`` describes; ``clock`` (wall) stamps what it stores."""
    if config.kind == "jetstream":
        from shippers.buffer.jetstream.buffer import JetStreamBuffer  # nats is imported only by processes that use it

        return JetStreamBuffer(config, clock=clock)
    return SqliteBuffer(config.path, max_bytes=max_bytes_of(config), fsync=config.fsync, clock=clock)
