"""The durable buffer: where an acknowledged event lives until every sink that routes it is done with it.

:class:`~shippers.buffer.protocol.Buffer` is what the rest of the core types against (append, scan,
record a cut, settle, dead-letter, position, the delivery lock, the DLQ); it names no SQLite.
:class:`~shippers.buffer.sqlite.SqliteBuffer` implements it today; a second implementation (NATS
JetStream, ``[buffer] kind = "jetstream"``) follows, held to ``shippers.testing.buffer_contract``.
:func:`shippers.buffer.opening.open_buffer` is the one place that picks the implementation.
"""

from shippers.buffer.protocol import Buffer
from shippers.buffer.records import BatchRecord, DeadItem, DeadLetter, NewBatch, SinkPolicy, SinkRow, StoredRow
from shippers.buffer.sqlite import SqliteBuffer

__all__ = ["BatchRecord", "Buffer", "DeadItem", "DeadLetter", "NewBatch", "SinkPolicy", "SinkRow", "SqliteBuffer", "StoredRow"]
