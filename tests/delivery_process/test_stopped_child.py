"""A delivery process that stops reading (SIGSTOP, a hang) never blocks the parent's callers: ingest, flush, status."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from shippers.shipper import Shipper

# Why: a bound on waiting for a call that must return (never an assertion on time).
WAIT_SECONDS = 30.0
# Why: NOTES notes of a 10 KB REASON are ~4 MB, many times the socket's buffer (a few hundred KiB): a parent
# writing each note would block long before.
NOTES = 400
REASON = "x" * 10_000


def test_full_sink_notes_and_syncs_never_wait_on_a_stopped_child(tmp_path: Path) -> None:
    """With its child stopped, a commit meeting a full sink (mark_blocked) and a flush's sync return; the child catches up after."""
    sinks = {name: {"type": "file", "path": str(tmp_path / f"{name}.ndjson")} for name in "ab"}
    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "buffer")}, "delivery": {"processes": 1}, "sinks": sinks}).start()
    process = shipper.delivery_processes[0]
    pid = process.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        results: list[bool] = []

        def refused_commits_then_flush_sync() -> None:
            for _ in range(NOTES):
                shipper.workers["a"].mark_blocked(REASON)  # what note_refused does for each commit refused by a full sink
            results.append(process.sync(0.1))

        caller = threading.Thread(target=refused_commits_then_flush_sync, daemon=True)
        caller.start()
        caller.join(WAIT_SECONDS)
        assert not caller.is_alive(), "a caller is stuck writing to a child that does not read"
        assert results == [False]  # no answer from a stopped child: the sync says so instead of waiting
    finally:
        os.kill(pid, signal.SIGCONT)
    assert process.sync(WAIT_SECONDS)  # continued, it reads the coalesced notes and answers again
    shipper.close(WAIT_SECONDS)
