"""The fleet's members: each one heartbeats into the ``<stream>_members`` key-value bucket.

A member puts ``{host, pid, started, at, sinks}`` under its id every ``HEARTBEAT_SECONDS``; the
bucket's TTL forgets one that stopped (crashed or partitioned) after ``MEMBER_TTL_SECONDS``.
``authlog status`` lists what it can see, with each member's age.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from typing import Any

from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from shippers.buffer.jetstream.link import Link
from shippers.buffer.jetstream.names import Names, bucket_keys

# Why: often enough that a status shows a member that just started; rare enough to cost nothing.
HEARTBEAT_SECONDS = 5.0
# Why: three missed heartbeats: a member gone this long is shown no more.
MEMBER_TTL_SECONDS = 3 * HEARTBEAT_SECONDS
# Why: a beat the cluster refused (no quorum, a leader election) is tried again this soon, so a member that
# started during an outage is listed within a second of the cluster's return, not a whole interval later.
HEARTBEAT_RETRY_SECONDS = 0.5
# Why: one heartbeat of a few hundred bytes per member, kept MEMBER_TTL_SECONDS; 8 MiB holds thousands of members
# and stops a misbehaving one from filling the servers' disks.
MEMBERS_BUCKET_MAX_BYTES = 8 * 1024**2


class Members:
    """This member's heartbeat, and the list of the fleet's members."""

    def __init__(self, link: Link, names: Names, replicas: int, member_id: str, clock: Callable[[], float]) -> None:
        self.link = link
        self.names = names
        self.replicas = replicas
        self.member_id = member_id
        self.clock = clock
        self.started = clock()
        self.sinks: list[str] = []
        self._bucket: KeyValue | None = None
        self._running = False

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            try:
                self._bucket = await self.link.js.key_value(self.names.members_bucket)
            except BucketNotFoundError:
                self._bucket = await self.link.js.create_key_value(KeyValueConfig(
                    bucket=self.names.members_bucket, history=1, ttl=MEMBER_TTL_SECONDS, storage=StorageType.FILE,
                    max_bytes=MEMBERS_BUCKET_MAX_BYTES, replicas=self.replicas,
                    description="authlog-shipper fleet members (heartbeats)"))
        return self._bucket

    def start(self, sinks: list[str]) -> None:
        """Heartbeat from now on (the loop thread does it) for a member delivering ``sinks``."""
        self.sinks = sorted(sinks)
        if not self._running:
            self._running = True
            self.link.submit(self._beat_forever())

    def _document(self) -> bytes:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": self.started, "at": self.clock(),
                           "sinks": self.sinks}).encode()

    async def _beat_forever(self) -> None:
        while self._running:
            try:
                await (await self._kv()).put(self.member_id, self._document())
            except Exception:  # the cluster is away: try again soon (meanwhile status shows the member as old, or not yet)
                await asyncio.sleep(HEARTBEAT_RETRY_SECONDS)
                continue
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def listed(self) -> list[dict[str, Any]]:
        """The members with a heartbeat in the bucket now: id, host, pid, sinks, age in seconds (by the servers' store time)."""
        async def read() -> list[dict[str, Any]]:
            await self._kv()  # the bucket (and its stream) made when absent
            keys = await bucket_keys(self.link.js, self.names.members_bucket)
            out = []
            for key in keys:
                try:  # the raw message, not kv.get: its time is when the servers stored the beat (a member's own clock may be off)
                    msg = await self.link.js.get_last_msg(f"KV_{self.names.members_bucket}", f"$KV.{self.names.members_bucket}.{key}")
                except NotFoundError:
                    continue
                if (msg.headers or {}).get(KV_OP) in (KV_DEL, KV_PURGE) or not msg.data:
                    continue  # the member left (its key deleted)
                document = json.loads(msg.data)
                stored_at = msg.time.timestamp() if msg.time is not None else float(document.get("at", 0))
                out.append({"id": key, "host": document.get("host"), "pid": document.get("pid"), "sinks": document.get("sinks", []),
                            "ageSeconds": round(max(0.0, self.clock() - stored_at), 1)})
            return sorted(out, key=lambda member: member["id"])

        return self.link.call(read(), "listing the fleet's members")

    def stop(self) -> None:
        """Stop heartbeating and remove this member's key (it left on purpose)."""
        if not self._running:
            return
        self._running = False

        async def leave() -> None:
            await (await self._kv()).delete(self.member_id)

        try:
            self.link.call(leave(), "leaving the fleet")
        except Exception:  # the cluster is away: the TTL forgets this member
            pass
