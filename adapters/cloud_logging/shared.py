"""What the entries of one (type, outcome, tenant) share: their severity and their labels, encoded once, remembered.

A sink's labels are the configured ones plus ``event_type``, ``outcome`` and ``tenant_id``: a few
dozen types and outcomes times the tenants, so most entries find theirs here and the mapping
builds and encodes no labels dict (~0.2 µs an entry). The outcome is the stored event's, part of
the key, since a later catalog could differ from the one that validated it.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from adapters.cloud_logging.config import OUTCOME_SEVERITY
from shippers.bounded_parts import BoundedParts
from shippers.event import Event

# Why: 4096 remembered (type, outcome, tenant) cover a large multi-tenant sidecar (Datadog's TAG_CACHE_SIZE too),
# ~1.4 MiB with short tenant ids (measured with tracemalloc); past that the cache starts again.
SHARED_CACHE_SIZE = 4096
# Why: an entry's size is the sink's labels' (up to 61) and a tenant id's (up to 1 KiB): 4096 of the largest
# are ~38 MiB, so the bytes of labels and tenant ids kept are bounded too (peak ~6 MiB held in all, tracemalloc).
SHARED_CACHE_BYTES = 4 * 1024 * 1024

Key = tuple[str, str, str | None]  # (type, outcome, tenant)
Shared = tuple[str, msgspec.Raw]  # (severity, labels encoded)

_json = msgspec.json.Encoder()


class SharedParts(BoundedParts[Key, Shared]):
    """The Shared of each Key seen lately (a dict: the mapping's look-up is a plain ``get``), bounded in count and bytes."""

    def __init__(self, labels: Mapping[str, str], severities: Mapping[str, str]) -> None:
        super().__init__(SHARED_CACHE_SIZE, SHARED_CACHE_BYTES)
        self.labels = dict(labels)
        self.severities = severities  # event type -> LogSeverity name

    def add(self, event: Event) -> Shared:
        """The severity and encoded labels of ``event``'s type, outcome and tenant, worked out and remembered."""
        labels = {**self.labels, "event_type": event.type, "outcome": event.outcome}
        if event.tenantId is not None:
            labels["tenant_id"] = event.tenantId
        encoded = _json.encode(labels)
        shared = (self.severities.get(event.type) or OUTCOME_SEVERITY[event.outcome], msgspec.Raw(encoded))
        size = len(encoded) + (len(event.tenantId) if event.tenantId is not None else 0)
        return self.remember((event.type, event.outcome, event.tenantId), shared, size)
