"""Write a small store with the code on PYTHONPATH (the fixture main-63da6a3/ was written by main at 63da6a3).

    git -C <repo> archive 63da6a3 | tar -x -C /tmp/oldmain
    PYTHONPATH=/tmp/oldmain python tests/data/stores/make_store.py tests/data/stores/main-63da6a3

What it holds (tests/test_store_migration.py expects exactly this), over events e0..e9 (seqs 1..10):
- sink ``archive``: batch [1-4] recorded under key "archive-1-4" and never settled (in flight at a
  crash); e4 (seq 5) in its DLQ; cut through 5, so e5..e9 are not cut yet.
- sink ``search``: batch [1-10] settled with 7 delivered, e2 (seq 3) dead-lettered with a pii tag and
  [9, 10] left recorded; then its DLQ replayed, so e2 waits again as seq 11, for ``search`` only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shippers.buffer import DeadItem, SinkPolicy, SqliteBuffer
from shippers.catalog import builtin_catalog
from shippers.config import PiiConfig
from shippers.event import EventValidator, encode_event
from shippers.pii import SinkPii

NOW = 1_795_000_000.0


def main(folder: Path) -> None:
    validator = EventValidator(builtin_catalog(), clock=lambda: NOW)
    events = [validator.from_fields({"type": "login.completed", "id": f"e{i}", "userId": f"u{i}", "tenantId": "t-1",
                                     "email": f"user{i}@example.com"}) for i in range(10)]
    stored = [(event, encode_event(event)) for event in events]
    store = SqliteBuffer(folder, max_bytes=1 << 24, clock=lambda: NOW)
    assert store.acquire_delivery_lock()
    store.register_sinks([SinkPolicy(name, "memory", "block", None, "tail") for name in ("archive", "search")])
    assert store.append(stored) == 10
    store.record_cut("archive", [("", lambda first, last: f"archive-{first}-{last}", [1, 2, 3, 4])],
                     [DeadItem(5, "rejected_by_destination", "refused by the destination", stored[4][1])], 5)
    [search] = store.record_cut("search", [("", lambda first, last: None, list(range(1, 11)))], [], 10)
    tag = SinkPii(PiiConfig()).tag
    store.settle(search, delivered=7, dead=[DeadItem(3, "rejected_by_destination", "mapping conflict", stored[2][1], tag)],
                 remaining=[9, 10])
    assert store.replay_dead_letters("search") == 1
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
