"""Which :class:`~shippers.buffer.protocol.Buffer` a ``[buffer]`` section opens: the one place that names an implementation."""

from __future__ import annotations

from collections.abc import Callable

from shippers.buffer.protocol import Buffer
from shippers.buffer.sqlite import SqliteBuffer
from shippers.config import BufferConfig


def open_buffer(config: BufferConfig, *, clock: Callable[[], float]) -> Buffer:
    """Open (or create) the store ``config`` describes; ``clock`` (wall) stamps what it stores."""
    return SqliteBuffer(config.path, max_bytes=config.max_bytes, fsync=config.fsync, clock=clock)
