"""What the rest of the machine took during a run: busy CPU of every process, less the run's own.

The machine is shared (other helpers' tests and benchmarks), so events/s of one run depends on
what else ran; this says how much. ``/proc/stat``'s first line is the whole machine's time in
ticks (user nice system idle iowait irq softirq steal ...); busy is all of it but idle and
iowait. What the peer, its endpoints and this harness (the producer and the pollers: its own
threads, ``RUSAGE_SELF``, not its children) used is subtracted by the caller.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Why: /proc/stat's "cpu" line, after the label: idle and iowait are the 4th and 5th fields.
IDLE_FIELDS = (3, 4)


def busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (0.0 where /proc/stat is missing)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    ticks = [int(field) for field in first[1:9]]  # guest time is already in user: left out
    return (sum(ticks) - sum(ticks[i] for i in IDLE_FIELDS)) / CLOCK_TICKS


def harness_seconds() -> float:
    """This process's user + system CPU seconds, every thread of it (the producer, the pollers)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
