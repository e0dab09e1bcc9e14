"""Which Hive partitions of an archive can hold events of ``[since, until)`` (pure).

The s3 sink writes ``<prefix>dt=YYYY-MM-DD/hour=HH/[tenant=<id>/]<seqs>-<sink>-<store>.ndjson.gz``
(adapters/s3/keys.py), the date and hour being the UTC hour of the event time. A replay lists one
prefix per day the range covers whole (``dt=D/``) and one per hour of the days it covers in part
(``dt=D/hour=HH/``), so a range of a few hours never lists a month of objects.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# A key's partition values, wherever the prefix ends (a prefix may itself contain '/').
_PARTITION = re.compile(r"(?:^|/)dt=(\d{4}-\d\d-\d\d)/hour=(\d\d)/(?:tenant=([^/]+)/)?[^/]+$")


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def partition_prefixes(since: datetime, until: datetime) -> list[str]:
    """The listing prefixes (relative to the archive prefix) that together hold every event of ``[since, until)``."""
    prefixes: list[str] = []
    hour = _floor_hour(since)
    while hour < until:
        day_end = hour.replace(hour=0) + DAY
        if hour.hour == 0 and day_end <= until:  # the whole day is inside the range
            prefixes.append(f"dt={hour:%Y-%m-%d}/")
            hour = day_end
            continue
        prefixes.append(f"dt={hour:%Y-%m-%d}/hour={hour:%H}/")
        hour += HOUR
    return prefixes


def key_partition(key: str) -> tuple[datetime, str | None] | None:
    """(the UTC hour, the tenant= value or None) of an archive key, or None when the key is not in a partition."""
    match = _PARTITION.search(key)
    if match is None:
        return None
    try:
        hour = datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    except ValueError:
        return None
    return hour, match[3]


def key_can_hold(key: str, since: datetime, until: datetime, tenant_values: frozenset[str] | None) -> bool:
    """Whether an object can hold events of the range (and of the tenants, given as partition values)."""
    found = key_partition(key)
    if found is None:
        return True  # not partitioned as we write: every line is checked
    hour, tenant = found
    if hour + HOUR <= since or hour >= until:
        return False
    return tenant_values is None or tenant is None or tenant in tenant_values
