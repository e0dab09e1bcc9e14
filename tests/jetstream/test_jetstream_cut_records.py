"""The cuts bucket under a long-lived fleet's load: a record of a large keyed batch (S3 Parquet: up to 1M events, stream seqs
in the billions) fits the servers' max_payload, and a settled record leaves nothing behind that later reads must wade through."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from shippers.buffer.jetstream.buffer import JetStreamBuffer
from shippers.buffer.jetstream.cuts import CutRecord, CutRecords
from shippers.buffer.jetstream.names import bucket_keys
from shippers.config import BufferConfig
from shippers.testing.buffer_contract import CONTRACT_NOW
from shippers.testing.nats_cluster import NatsCluster

# Why: S3's hard batch limit (adapters/s3/config.py HARD_LIMITS.max_events); Parquet sinks cut this many by default.
LARGEST_BATCH = 1_000_000
# Why: a stream that has taken a few billion events (months of a busy fleet): every seq is ten digits.
OLD_STREAM_SEQ = 4_000_000_000


@pytest.fixture
def member(nats_server: NatsCluster) -> Iterator[JetStreamBuffer]:
    buffer = JetStreamBuffer(BufferConfig(kind="jetstream", servers=nats_server.urls, replicas=1), clock=lambda: CONTRACT_NOW)
    yield buffer
    buffer.close()


def _spread_seqs(count: int, seed: int) -> tuple[int, ...]:
    """Sorted stream seqs with gaps of 1 to 20 (other members' and other routes' events in between)."""
    rng, seq, out = random.Random(seed), OLD_STREAM_SEQ, []
    for _ in range(count):
        seq += rng.randint(1, 20)
        out.append(seq)
    return tuple(out)


def test_a_record_of_the_largest_keyed_batch_is_stored_and_read_back_whole(member: JetStreamBuffer) -> None:
    """A record of 1M spread ten-digit seqs is put (no max_payload refusal) and loaded back with every seq, key and partition."""
    records = CutRecords(member.link, member.names, "s3")
    seqs = _spread_seqs(LARGEST_BATCH, seed=3)
    records.put([CutRecord(records.name_for(seqs), "dt=2026-12-01", "obj-big", seqs)])
    loaded = records.load()
    assert len(loaded) == LARGEST_BATCH and set(loaded) == set(seqs)
    [record] = {id(record): record for record in loaded.values()}.values()  # one record, under each of its seqs
    assert (record.key, record.partition, record.stream_seqs) == ("obj-big", "dt=2026-12-01", seqs)


def test_a_smaller_rewrite_of_a_large_record_reads_back_only_what_remains(member: JetStreamBuffer) -> None:
    """A partial settle rewrites a record with fewer seqs: loading it gives exactly those, none of the settled ones."""
    records = CutRecords(member.link, member.names, "s3")
    seqs = _spread_seqs(300_000, seed=4)
    name = records.name_for(seqs)
    records.put([CutRecord(name, "p", "obj", seqs)])
    records.put([CutRecord(name, "p", "obj", seqs[:10])])
    assert sorted(records.load()) == list(seqs[:10])


def test_settled_records_leave_no_keys_behind(member: JetStreamBuffer) -> None:
    """Deleting records removes their keys from the bucket's subjects, so a load after thousands of batches reads only live ones."""
    records = CutRecords(member.link, member.names, "s3")
    made = [CutRecord(f"s3.{first}", "p", f"obj-{first}", (first, first + 1)) for first in range(1, 200, 2)]
    records.put(made)
    records.delete([record.name for record in made])
    left = member.link.call(bucket_keys(member.link.js, member.names.cuts_bucket, "s3."), "listing")
    assert left == [] and records.load() == {}
