"""One sink's view of a stored row: decode, apply the sink's PII policy (once), map, encode; and its dead letters.

Pure over what it is given (a row, the adapter's pure methods, the policy): the cut calls it for
new rows, a restart for the rows of a recorded batch, and it gives the same item both times.
A dead letter holds only what the sink may see (the policy applied), never the row as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from adapters.contract import Adapter
from shippers.buffer.records import DeadItem, StoredRow
from shippers.delivery.codes import CODE_INVALID
from shippers.delivery.shared_rows import decode_row, decode_row_keys
from shippers.event import Event, EventKeys, encode_event
from shippers.pii import SinkPii, scrub


class Mapped(msgspec.Struct, frozen=True, gc=False):
    """One routed event, mapped for the sink.

    A Struct the garbage collector does not track (``gc=False``): one is made per event per sink and held
    until its batch settles (S3: up to 100k), and every full collection walked them all. It can be in no
    reference cycle: what it holds (row, events, document, bytes) never refers back to it.
    """

    row: StoredRow
    event: Event | EventKeys  # the sink's view (PII policy applied); its keys alone for a sink that reads_event_keys
    doc: object  # adapter.map(event)
    item: bytes  # adapter.encode_item(doc): what the request carries and the limits count
    stored: Event | EventKeys  # the row as decoded (before the PII policy), for dead letters


class RowMapper:
    """Stored rows -> one sink's items and dead letters."""

    def __init__(
        self, adapter: Adapter, pii: SinkPii | None = None, decode: Callable[[StoredRow], Event | EventKeys | DeadItem] = decode_row
    ) -> None:
        self.adapter = adapter
        self.pii = pii or SinkPii()
        self.transform = self.pii.transform
        # The stored event, or its ``undecodable`` dead letter (shippers.delivery.shared_rows.decode_row); the
        # fan-out gives every sink SharedRows.decode, so each row is decoded once for all of them. An archive-line
        # sink without a policy whose adapter reads only the keys sends the stored bytes and decodes just those
        # (decode_row_keys): S3 NDJSON cuts batches of up to 100k rows, long after the shared window moved on.
        self.keys_only = adapter.archive_line and adapter.reads_event_keys and self.transform is None
        self.decode = decode_row_keys if self.keys_only else decode

    def map_row(self, row: StoredRow, stored: Event | EventKeys) -> Mapped:
        """From ``stored`` (the row decoded): apply the sink's PII policy (once: a replayed dead letter carries it
        already), map, encode."""
        event = stored
        if row.pii is not None:  # a replayed dead letter: its body is the sink's view already (decoded whole)
            event = self.pii.view(event, row.pii)[0]  # type: ignore[arg-type]  # decode_row_keys: whole when tagged
        elif self.transform is not None:
            event = self.transform(event)  # type: ignore[arg-type]  # no policy where the keys are decoded alone
        elif self.adapter.archive_line:  # the stored bytes are already the archive line (a keys-only sink: always here)
            return Mapped(row, event, event, row.body, stored)
        doc = self.adapter.map(event)
        return Mapped(row, event, doc, self.adapter.encode_item(doc), stored)

    def dead_letter(
        self, row: StoredRow, code: str, reason: str, mapped: Mapped | None = None, *, stored: Event | EventKeys | None = None
    ) -> DeadItem:
        """A dead letter holding only what this sink may see: the mapped event, or the row with the policy applied.

        The reason is scrubbed too: a text quoting a value the policy hides (an adapter or policy
        error message) shows the sink's version of it instead. Give ``mapped`` when the row was mapped,
        else ``stored`` (the row decoded by ``decode``; an undecodable row is its own dead letter).
        """
        if mapped is not None:
            stored = mapped.stored
        assert stored is not None, "dead_letter needs the mapped row or the decoded one"
        if isinstance(stored, EventKeys):  # a keys-only sink (no policy: its view is the stored event): the letter holds it whole
            whole = decode_row(row)
            if isinstance(whole, DeadItem):
                return whole
            stored, mapped = whole, None
        shown, tag = self.pii.safe_view(stored, row.pii)
        if mapped is not None:
            shown = mapped.event  # the same view (map_row made it), as sent
            assert isinstance(shown, Event)
        body = row.body if shown is stored else encode_event(shown)
        return DeadItem(row.seq, code, scrub(reason, stored, shown), body, tag)

    def rebuild(self, rows: Iterable[StoredRow]) -> tuple[list[Mapped], list[DeadItem]]:
        """A recorded batch's rows mapped again after a restart: the same documents, or dead items for rows
        that no longer map (an adapter upgrade, a changed PII policy)."""
        mapped: list[Mapped] = []
        failed: list[DeadItem] = []
        for row in rows:
            stored = self.decode(row)
            if isinstance(stored, DeadItem):
                failed.append(stored)
                continue
            try:
                mapped.append(self.map_row(row, stored))
            except Exception as exc:
                failed.append(self.dead_letter(row, CODE_INVALID, adapter_failure(exc), stored=stored))
        return mapped, failed


def adapter_failure(exc: Exception) -> str:
    """The dead-letter reason of an event the adapter raised on (an adapter bug costs one event, not the stream)."""
    return f"the adapter failed on this event: {type(exc).__name__}: {exc}"
