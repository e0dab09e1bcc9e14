"""What the target sink's destination does with replayed events: its ingestion window, retention and duplicates.

Facts per sink type (CONTRACTS.md "Time windows" and "dedup"; the constants live in each adapter's
config, imported only for a target of that type, whose SDK is installed anyway):

- Datadog accepts timestamps from 18 h in the past to 2 h ahead and drops the rest silently: replay
  skips events outside the window before queueing (counted by reason), so they never pour into the DLQ;
- Cloud Logging accepts entries older than its default 30-day retention and then drops them unless
  the log bucket keeps longer: they are sent as the sink sends them and counted apart;
- what a replayed duplicate becomes (:data:`DUPLICATES`) is said in the summary.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from shippers.pii import FIELDS

# Why: a queued event waits for its batch (and any backoff) before the Datadog adapter checks the window
# again at send time; 10 minutes of margin keeps events close to the edge out of the DLQ.
WINDOW_MARGIN_SECONDS = 600.0

DUPLICATES = {
    "elasticsearch": "Elasticsearch: each event is a `create` with its id as `_id`; one already in the index answers 409 and "
                     "counts as a duplicate, so each event is there once per index (a data stream that rolled over holds it "
                     "again in its new backing index)",
    "cloud_logging": "Cloud Logging: the event id is the entry's insertId; entries with the same insertId and timestamp are "
                     "de-duplicated at query time",
    "datadog": "Datadog: no de-duplication; an event already in Datadog is stored again",
    "s3": "S3: a new object under a new key; the bucket then holds the event twice",
    "file": "file: the line is appended again; the file then holds the event twice",
}
# How much each treatment hides: a policy can only add to what the archive removed, never take it back.
_HIDES = {"keep": 0, "mask": 1, "hash": 2, "drop": 3}


def duplicate_note(sink_type: str) -> str:
    return DUPLICATES.get(sink_type, f"{sink_type}: what a duplicate becomes depends on the destination")


def window_check(sink_type: str) -> Callable[[float, float], str | None] | None:
    """For a destination with an ingestion window: (event epoch s, now) -> the skip reason, or None; else None."""
    if sink_type != "datadog":
        return None
    config = importlib.import_module("adapters.datadog.config")
    past, future = float(config.MAX_PAST_SECONDS), float(config.MAX_FUTURE_SECONDS)

    def outside(when: float, now: float) -> str | None:
        if now - when > past - WINDOW_MARGIN_SECONDS:
            return f"older than Datadog's {past / 3600:g}-hour window (less {WINDOW_MARGIN_SECONDS / 60:g} minutes of margin)"
        if when - now > future - WINDOW_MARGIN_SECONDS:
            return f"more than {future / 3600:g} h ahead (Datadog's window)"
        return None

    return outside


def retention_check(sink_type: str) -> Callable[[float, float], str | None] | None:
    """For a destination that drops old entries after accepting them: (event epoch s, now) -> the note, or None."""
    if sink_type != "cloud_logging":
        return None
    retention = float(importlib.import_module("adapters.cloud_logging.config").DEFAULT_RETENTION_SECONDS)

    def stale(when: float, now: float) -> str | None:
        if now - when > retention:
            return f"older than Cloud Logging's default {retention / 86400:g}-day retention (dropped unless the log bucket keeps longer)"
        return None

    return stale


def policy_shortfall(archived: dict[str, str] | None, target_actions: dict[str, str]) -> list[str]:
    """The fields the target's policy would show more of than the archive kept (``email: archive hash, sink keep``)."""
    if not archived:
        return []
    notes = []
    for field in FIELDS:
        old = archived.get(field)
        if old is None:
            continue
        now = target_actions[field].partition(":")[0]
        if _HIDES.get(now, 3) < _HIDES.get(old, 3):
            notes.append(f"{field}: archived {old}, the sink's policy says {now}")
    return notes
