"""Keyed cuts recorded in the ``<stream>_cuts`` key-value bucket, so a member that takes over resends the same key.

A batch with a destination key (S3: the object key fixed when it was cut) is recorded *before* it is
sent, under ``<sink>.<first stream seq>``, with its partition, key and the stream seqs of its events
still unsettled; a partial settle rewrites it (before the acks), the last settle deletes it (after
them). When a member dies its messages come back from the consumer to another member, which finds
them in a record: once every event of the record is in its hands it resends them as that batch,
under that key (S3's ``If-None-Match`` then makes a resend of a written object a 412, counted as a
duplicate). A record only partly handed to one member (the consumer split the redelivery between
two) is given up after ``ADOPT_GRACE_SECONDS``: its events are cut again as new ones (a second
object at worst, never a loss), and the record is deleted. Batches without a key (Elasticsearch,
Cloud Logging, Datadog, files) are not recorded: their destinations de-duplicate by event id, or
they are at-least-once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from shippers.buffer.jetstream.link import Link
from shippers.buffer.jetstream.names import Names, bucket_keys

# Why: a redelivery of one dead member's batch arrives in one or two fetches; past this the rest went
# to another member and waiting longer only delays the events.
ADOPT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class CutRecord:
    """A keyed batch as recorded: its name in the bucket, partition, key and unsettled stream seqs."""

    name: str
    partition: str
    key: str
    stream_seqs: tuple[int, ...]

    def encode(self) -> bytes:
        return json.dumps({"partition": self.partition, "key": self.key, "seqs": list(self.stream_seqs)}).encode()

    @classmethod
    def decode(cls, name: str, value: bytes) -> CutRecord:
        document = json.loads(value)
        return cls(name, str(document["partition"]), str(document["key"]), tuple(int(s) for s in document["seqs"]))


async def ensure_bucket(link: Link, names: Names, replicas: int) -> None:
    """Create the cuts bucket when absent."""
    try:
        await link.js.key_value(names.cuts_bucket)
    except BucketNotFoundError:
        await link.js.create_key_value(KeyValueConfig(bucket=names.cuts_bucket, history=1, replicas=replicas, storage=StorageType.FILE,
                                                      description="authlog-shipper keyed cuts (a takeover resends the same key)"))


class CutRecords:
    """The bucket's records of one sink."""

    def __init__(self, link: Link, names: Names, sink: str) -> None:
        self.link = link
        self.names = names
        self.sink = sink
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self.link.js.key_value(self.names.cuts_bucket)
        return self._bucket

    def name_for(self, stream_seqs: Sequence[int]) -> str:
        return f"{self.sink}.{min(stream_seqs)}"

    def put(self, records: Sequence[CutRecord]) -> None:
        async def put() -> None:
            kv = await self._kv()
            for record in records:
                await kv.put(record.name, record.encode())

        if records:
            self.link.call(put(), f"recording {len(records)} keyed batch(es) of sink {self.sink!r}")

    def delete(self, names: Sequence[str]) -> None:
        async def delete() -> None:
            kv = await self._kv()
            for name in names:
                await kv.delete(name)

        if names:
            self.link.call(delete(), f"deleting {len(names)} settled batch record(s) of sink {self.sink!r}")

    def load(self) -> dict[int, CutRecord]:
        """Every record of the sink, by each stream seq it holds."""
        async def load() -> dict[int, CutRecord]:
            kv = await self._kv()
            keys = await bucket_keys(self.link.js, self.names.cuts_bucket, f"{self.sink}.")
            by_seq: dict[int, CutRecord] = {}
            for name in keys:
                try:
                    entry = await kv.get(name)
                except KeyNotFoundError:
                    continue
                if entry.value:
                    record = CutRecord.decode(name, entry.value)
                    by_seq.update(dict.fromkeys(record.stream_seqs, record))
            return by_seq

        return self.link.call(load(), f"reading sink {self.sink!r}'s recorded batches")


@dataclass
class Adopting:
    """Events of one record handed to this member so far (local seq by stream seq), since when (monotonic)."""

    record: CutRecord
    since: float
    local: dict[int, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return set(self.local) == set(self.record.stream_seqs)


class Adoptions:
    """The records this member is collecting the events of (the source's lock guards it)."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self.collecting: dict[str, Adopting] = {}

    def take(self, record: CutRecord, stream_seq: int, local_seq: int) -> Adopting:
        adopting = self.collecting.setdefault(record.name, Adopting(record, self.monotonic()))
        adopting.local[stream_seq] = local_seq
        return adopting

    def finish(self, name: str) -> None:
        self.collecting.pop(name, None)

    def overdue(self) -> list[Adopting]:
        """Records collected for longer than the grace, still incomplete: given up (their events are cut as new)."""
        now = self.monotonic()
        late = [a for a in self.collecting.values() if not a.complete and now - a.since > ADOPT_GRACE_SECONDS]
        for adopting in late:
            del self.collecting[adopting.record.name]
        return late
