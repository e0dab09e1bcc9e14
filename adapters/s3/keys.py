"""Object keys: the Hive-style partition of an event and the key of a batch (DESIGN.md).

    <prefix>dt=YYYY-MM-DD/hour=HH/[tenant=<id>/]<first-seq>-<last-seq>-<sink>-<store-id>.ndjson.gz

- the date and hour are the UTC hour of the *event* time, so a late event lands in the
  hour it happened (Athena's partition projection finds it there);
- ``tenant=`` appears only with ``partition_by = ["tenant"]``; the id is percent-encoded
  (no '/', ':' or spaces in a partition value; ``~`` too, as ``%7E``, so a literal ``~`` can only
  be the mark of a shortened value) and ``_none`` stands for "no tenant"; an id
  whose encoded form passes ``MAX_TENANT_VALUE_BYTES`` is written as its first
  ``TENANT_HEAD_BYTES`` encoded bytes, ``~`` and ``TENANT_HASH_CHARS`` hex digits of the
  SHA-256 of the id (stable, and short enough that no key passes S3's 1024 bytes for it);
- seqs are the batch's first and last buffer sequence numbers, zero-padded to 20 digits
  so keys sort in delivery order; the sink name keeps two sinks on one bucket apart.

With ``format = "ocsf-parquet"`` the layout is Amazon Security Lake's for custom sources
(its "Collecting data from custom sources" page), one source per OCSF class::

    <prefix>ext/<source>/region=<region>/accountId=<account>/eventDay=YYYYMMDD/<first-seq>-<last-seq>-<sink>-<store-id>.parquet

Everything here is pure: the core cuts a batch with ``partition()`` and records
``object_key()`` before the first attempt, so every resend targets the same key.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from urllib.parse import quote

from shippers.event import Event

NO_TENANT = "_none"
SEQ_DIGITS = 20  # Why: 2**64 has 20 decimal digits; fixed width makes keys sort numerically.
SUFFIX = ".ndjson.gz"
# Why: a tenantId may be 1 KiB (12 KiB percent-encoded): over this, its value is shortened, so the
# key stays under S3's 1024 bytes with room for a prefix and a sink name (~100 bytes of fixed parts).
MAX_TENANT_VALUE_BYTES = 256
# Why: the start of a shortened tenant keeps it recognisable in a listing.
TENANT_HEAD_BYTES = 64
# Why: 128 bits of SHA-256: two different long tenants never share a partition in practice.
TENANT_HASH_CHARS = 32
# The UTC times the validator stores (``shippers.event.format_time``): date and hour read off the text.
_UTC_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d):\d\d:\d\d(?:\.\d+)?Z")


def _encoded(text: str) -> str:
    """Percent-encoded for a partition value; ``~`` too (quote() leaves it), since it marks a shortened value."""
    return quote(text, safe="").replace("~", "%7E")


def tenant_value(tenant: str | None) -> str:
    """The partition value of a tenant id: percent-encoded, ``_none`` when absent."""
    if tenant is None:
        return NO_TENANT
    # A real tenant named "_none" must not share the no-tenant partition.
    if tenant == NO_TENANT:
        return "%5Fnone"
    value = _encoded(tenant)
    if len(value) <= MAX_TENANT_VALUE_BYTES:
        return value
    return shortened_tenant_value(tenant)


def shortened_tenant_value(tenant: str) -> str:
    """``<first TENANT_HEAD_BYTES encoded bytes, whole characters>~<SHA-256 of the id, hex>``."""
    head: list[str] = []
    size = 0
    for char in tenant:
        encoded = _encoded(char)
        if size + len(encoded) > TENANT_HEAD_BYTES:
            break
        head.append(encoded)
        size += len(encoded)
    digest = hashlib.sha256(tenant.encode("utf-8", "surrogatepass")).hexdigest()[:TENANT_HASH_CHARS]
    return "".join(head) + "~" + digest


def utc_date_hour(event: Event) -> tuple[str, str]:
    """``("YYYY-MM-DD", "HH")``: the UTC date and hour of the event's time."""
    utc = _UTC_TIME.fullmatch(event.time)
    if utc is not None:  # every validated event: no datetime needed
        return utc[1], utc[2]
    # a record not in that form (a foreign writer): its UTC hour, whatever offset it was written with
    moment = event.timestamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    # Explicit widths: strftime's %Y does not zero-pad years before 1000 on every platform.
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}", f"{moment.hour:02d}"


def partition_of(event: Event, by_tenant: bool) -> str:
    """``dt=YYYY-MM-DD/hour=HH`` (+ ``/tenant=<id>``) of the event's UTC time."""
    day, hour = utc_date_hour(event)
    part = f"dt={day}/hour={hour}"
    if by_tenant:
        part += f"/tenant={tenant_value(event.tenantId)}"
    return part


def security_lake_partition(event: Event, source: str, region: str, account_id: str) -> str:
    """``ext/<source>/region=<region>/accountId=<account>/eventDay=YYYYMMDD`` of the event's UTC day."""
    day, _ = utc_date_hour(event)
    return f"ext/{source}/region={region}/accountId={account_id}/eventDay={day.replace('-', '')}"


def object_key(prefix: str, partition: str, first_seq: int, last_seq: int, sink: str, store_id: str = "",
               suffix: str = SUFFIX) -> str:
    """The full key of the batch ``first_seq..last_seq`` of ``sink`` in ``partition``.

    ``store_id`` (the buffer's random id) keeps two buffers whose seqs both start at 1 (two
    sidecars on one bucket, a rebuilt buffer) from ever producing the same key.
    """
    store = f"-{store_id}" if store_id else ""
    return f"{prefix}{partition}/{first_seq:0{SEQ_DIGITS}d}-{last_seq:0{SEQ_DIGITS}d}-{sink}{store}{suffix}"


def key_bytes(prefix: str, partition: str, sink: str, store_id: str = "", suffix: str = SUFFIX) -> int:
    """The UTF-8 length of every key in ``partition`` (seqs are fixed width)."""
    return fixed_key_bytes(prefix, sink, store_id, suffix) + len(partition.encode("utf-8"))


def fixed_key_bytes(prefix: str, sink: str, store_id: str = "", suffix: str = SUFFIX) -> int:
    """The UTF-8 length of a key without its partition: what every key of a sink shares."""
    return len(object_key(prefix, "", 0, 0, sink, store_id, suffix).encode("utf-8"))
