"""A store written by main at 63da6a3 (tests/data/stores/main-63da6a3, made by make_store.py) opens with this code and
delivers everything it held: the batch recorded in flight under its key, the rest of a partly settled batch, the events
never cut and a replayed dead letter; its dead letters read back."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from shippers.shipper import Shipper
from shippers.testing.memory import MemoryAdapter, delivered_ids

STORE = Path(__file__).parent / "data" / "stores" / "main-63da6a3"


def test_a_store_written_by_main_delivers_everything_it_held(tmp_path: Path, make_shipper: Callable[..., Shipper]) -> None:
    """Each sink gets exactly the events it had left, the in-flight batch is resent first under its recorded key, and the DLQ is as it was."""
    shutil.copytree(STORE, tmp_path / "buffer")
    shipper = make_shipper({"archive": {"type": "memory"}, "search": {"type": "memory"}})
    assert shipper.flush(20)
    resent = MemoryAdapter.requests["archive"][0]
    assert (resent.key, resent.first_seq, resent.last_seq) == ("archive-1-4", 1, 4)
    assert [e.id for e in resent.events] == ["e0", "e1", "e2", "e3"]
    assert sorted(delivered_ids("archive")) == [f"e{i}" for i in range(10) if i != 4]
    assert sorted(delivered_ids("search")) == ["e2", "e8", "e9"]
    [letter] = shipper.dead_letters("archive")
    assert (letter.seq, letter.reason, letter.event.id if letter.event else None) == (5, "refused by the destination", "e4")
    assert shipper.dead_letters("search") == []
    sinks = shipper.status()["sinks"]
    assert (sinks["archive"]["delivered"], sinks["search"]["delivered"]) == (9, 10)
    assert (sinks["archive"]["lagEvents"], sinks["search"]["lagEvents"]) == (0, 0)
