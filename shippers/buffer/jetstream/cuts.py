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

A record is stored as a head and parts, so the largest batch (1M events, ten-digit stream seqs)
stays far under the servers' ``max_payload`` (1 MiB by default)::

    <sink>.<first>        {"partition", "key", "parts": n}             written last: a head means its parts are there
    <sink>.<first>.<i>    zlib of the deltas between sorted seqs          SEQS_PER_PART seqs each

A settled record's keys are purged from the bucket's stream, not deleted: a KV delete leaves a
marker per key forever, and every load would list (and try) every batch the fleet ever cut.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
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
# Why: 100k sorted seqs as zlib'd deltas take well under 300 KiB even with wide gaps (a few bytes each), a safe
# margin under NATS's default max_payload of 1 MiB; the largest S3 batch (1M events) is ten parts.
SEQS_PER_PART = 100_000


@dataclass(frozen=True)
class CutRecord:
    """A keyed batch as recorded: its name in the bucket, partition, key and unsettled stream seqs."""

    name: str
    partition: str
    key: str
    stream_seqs: tuple[int, ...]

    def parts(self) -> list[bytes]:
        """The seqs, sorted, in parts of SEQS_PER_PART: each the zlib of its deltas (the first from 0)."""
        seqs = sorted(self.stream_seqs)
        out = []
        for start in range(0, len(seqs), SEQS_PER_PART):
            chunk = seqs[start : start + SEQS_PER_PART]
            deltas = [chunk[0]] + [b - a for a, b in zip(chunk, chunk[1:], strict=False)]
            out.append(zlib.compress(",".join(map(str, deltas)).encode()))
        return out

    def head(self, parts: int) -> bytes:
        return json.dumps({"partition": self.partition, "key": self.key, "parts": parts}).encode()

    @classmethod
    def decode(cls, name: str, head: bytes, parts: Sequence[bytes]) -> CutRecord:
        document = json.loads(head)
        seqs: list[int] = [int(s) for s in document.get("seqs", ())]  # a record written before parts existed
        for part in parts:
            total = 0
            for delta in zlib.decompress(part).decode().split(","):
                total += int(delta)
                seqs.append(total)
        return cls(name, str(document["partition"]), str(document["key"]), tuple(seqs))


# Why: a record is a head plus zlib'd parts of 100k seqs (a few KiB per 100k-event batch), one per keyed batch in
# flight (a few per S3 sink and member, purged once settled); 256 MiB holds thousands of the largest cuts and
# keeps a leak from filling the servers' disks. Full, a cut is refused and retried (never sent unrecorded).
CUTS_BUCKET_MAX_BYTES = 256 * 1024**2


async def ensure_bucket(link: Link, names: Names, replicas: int) -> None:
    """Create the cuts bucket when absent, capped at CUTS_BUCKET_MAX_BYTES (a bucket made before the cap gets it)."""
    try:
        await link.js.key_value(names.cuts_bucket)
    except BucketNotFoundError:
        await link.js.create_key_value(KeyValueConfig(bucket=names.cuts_bucket, history=1, replicas=replicas, storage=StorageType.FILE,
                                                      max_bytes=CUTS_BUCKET_MAX_BYTES,
                                                      description="authlog-shipper keyed cuts (a takeover resends the same key)"))
        return
    await cap_bucket(link, names.cuts_bucket, CUTS_BUCKET_MAX_BYTES)


async def cap_bucket(link: Link, bucket: str, max_bytes: int) -> None:
    """Give a key-value bucket (its stream KV_<bucket>) the byte limit it lacks."""
    info = await link.js.stream_info(f"KV_{bucket}")
    if info.config.max_bytes in (None, -1):
        await link.js.update_stream(dataclasses.replace(info.config, max_bytes=max_bytes))


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
        """Write each record: its parts, then its head, then drop parts a rewrite with fewer seqs no longer has."""
        async def put() -> None:
            kv = await self._kv()
            for record in records:
                parts = record.parts()
                for index, part in enumerate(parts):
                    await kv.put(f"{record.name}.{index}", part)
                await kv.put(record.name, record.head(len(parts)))
                for stale in await bucket_keys(self.link.js, self.names.cuts_bucket, f"{record.name}."):
                    if int(stale.rsplit(".", 1)[1]) >= len(parts):
                        await self._purge(stale)

        if records:
            self.link.call(put(), f"recording {len(records)} keyed batch(es) of sink {self.sink!r}")

    async def _purge(self, key: str) -> None:
        """Remove a key and its history from the bucket's stream (no delete marker left behind)."""
        await self.link.js.purge_stream(f"KV_{self.names.cuts_bucket}", subject=f"$KV.{self.names.cuts_bucket}.{key}")

    def delete(self, names: Sequence[str]) -> None:
        """Remove records, head first (a record without its head is never read), then their parts."""
        async def delete() -> None:
            await self._kv()
            for name in names:
                await self._purge(name)
                await self.link.js.purge_stream(f"KV_{self.names.cuts_bucket}", subject=f"$KV.{self.names.cuts_bucket}.{name}.>")

        if names:
            self.link.call(delete(), f"deleting {len(names)} settled batch record(s) of sink {self.sink!r}")

    def load(self) -> dict[int, CutRecord]:
        """Every record of the sink, by each stream seq it holds."""
        async def load() -> dict[int, CutRecord]:
            kv = await self._kv()
            keys = await bucket_keys(self.link.js, self.names.cuts_bucket, f"{self.sink}.")
            by_seq: dict[int, CutRecord] = {}
            for name in keys:
                if name.count(".") != 1:
                    continue  # a part: read with its head
                try:
                    head = await kv.get(name)
                    if not head.value:
                        continue
                    count = int(json.loads(head.value).get("parts", 0))
                    parts = [(await kv.get(f"{name}.{index}")).value or b"" for index in range(count)]
                except KeyNotFoundError:
                    continue  # deleted meanwhile
                record = CutRecord.decode(name, head.value, parts)
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
