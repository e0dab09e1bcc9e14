"""The durable buffer: where an acknowledged event lives until every sink that routes it is done with it.

The interface is deliberately narrow (append, scan, record a cut, ack, dead-letter, stats) so a
second implementation (NATS JetStream, ``[buffer] kind = "jetstream"``) can follow. Today there
is one: :class:`~shippers.buffer.sqlite.SqliteBuffer`.
"""

from shippers.buffer.records import BatchRecord, DeadItem, DeadLetter, SinkPolicy, SinkRow, StoredRow
from shippers.buffer.sqlite import SqliteBuffer

__all__ = ["BatchRecord", "DeadItem", "DeadLetter", "SinkPolicy", "SinkRow", "SqliteBuffer", "StoredRow"]
