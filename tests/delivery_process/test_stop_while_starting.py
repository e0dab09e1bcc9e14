"""A delivery process being started when its supervisor stops never outlives the stop (nor delivers unsupervised)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from shippers.delivery_process.sink_lock import SinkLock
from shippers.delivery_process.supervisor import DeliveryProcess
from shippers.shipper import Shipper

CHILD_MODULE = "shippers.delivery_process.child"
# Why: well inside the child's own wait for the lock (child.LOCK_WAIT_SECONDS, 10 s), after which it would give up by itself.
STOP_SECONDS = 5.0


def delivery_children() -> list[int]:
    """The pids of this process's live delivery processes (read from /proc: parent pid and command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == os.getpid() and state not in ("Z", "X") and CHILD_MODULE.encode() in cmdline:
            found.append(int(entry.name))
    return found


def wait_for_a_child() -> int:
    while True:  # bounded by the test's own timeout; the child appears within a second
        pids = delivery_children()
        if pids:
            return pids[0]
        time.sleep(0.01)


def test_stop_ends_a_child_still_waiting_for_its_sink_lock(tmp_path: Path) -> None:
    """stop() while the child waits (here for a sink lock an earlier owner holds) ends that child: none is left behind."""
    config = {"buffer": {"path": str(tmp_path / "buffer")}, "sinks": {"a": {"type": "file", "path": str(tmp_path / "a.ndjson")}}}
    shipper = Shipper.from_config(config)  # builds the store; delivers nothing
    shipper.buffer.register_sinks(shipper._policies(), remove_others=True)  # what start() does before it plans
    earlier_owner = SinkLock(tmp_path / "buffer", "a")
    assert earlier_owner.try_acquire()
    process = DeliveryProcess(0, shipper.config, ["a"], shipper.metrics)
    try:
        process.start()
        wait_for_a_child()  # started; it waits for sink a's lock before it says it is ready
        process.stop(STOP_SECONDS)
        assert delivery_children() == []  # it was left running: it would take the lock and deliver with no parent to steer it
    finally:
        earlier_owner.release()
        process.stop(5)
        shipper.close(5)
