"""Wake-ups coalesce: a sink woken while nothing was due pauses before it looks again, unless a flush or a drain asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shippers.delivery.shared_rows import SharedRows
from shippers.delivery.sink_loop import WAKE_COALESCE_SECONDS
from shippers.shipper import Shipper


def test_a_wake_up_pauses_before_the_next_look_and_a_flush_does_not(make_shipper: Callable[..., Shipper], tmp_path: Path) -> None:
    """After a plain wake-up the loop paces once (WAKE_COALESCE_SECONDS) before its next cycle; after a flush's wake-up it does not."""
    shipper = make_shipper({"f": {"type": "file", "path": str(tmp_path / "out.ndjson")}}, start=False)
    loop = shipper._make_worker(shipper.config.sinks["f"], SharedRows(shipper.buffer)).loop
    signals = loop.signals
    events: list[str] = []

    def cycle() -> bool:
        events.append("cycle")
        n = events.count("cycle")
        if n == 1:
            signals.wake.set()  # an append woke it: nothing else asked
        elif n == 2:
            signals.flush.set()  # flush() sets flush, then wakes
            signals.wake.set()
        else:
            signals.stopping.set()
            signals.wake.set()
        return False  # nothing due

    loop._open = lambda: True  # type: ignore[method-assign]
    loop._cycle = cycle  # type: ignore[method-assign]
    loop.pace = lambda seconds: events.append(f"pace {seconds}")
    loop.run()

    assert events == ["cycle", f"pace {WAKE_COALESCE_SECONDS}", "cycle", "cycle"]
