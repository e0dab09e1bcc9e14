"""Where a Shipper's sinks are delivered: the plan for its config, and the locks of the sinks kept on its threads.

The Shipper (the holder of the store's delivery lock) asks :func:`placement_for` once it holds the
lock. Delivery processes need the SQLite store and the real clocks: a fleet (JetStream) member and
a Shipper with injected clocks or sleeps (tests) keep every sink on its threads, since a child has
neither the fleet's consumers nor the injected clocks. When children deliver now, or did on this
store before (their sink lock files exist), the sinks on the parent's threads take their sink locks
too, so a child of an earlier sidecar still dying cannot deliver one of them beside this process.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from shippers.config import Config
from shippers.delivery_process.plan import DeliveryPlan, plan_delivery
from shippers.delivery_process.sink_lock import SinkLock, any_sink_locks
from shippers.errors import BufferLockedError
from shippers.plugins import builds_anywhere

log = logging.getLogger("shippers.delivery_process")


def placement_for(config: Config, *, real_time: bool) -> DeliveryPlan:
    """The plan for ``[delivery] processes`` (None or 0: every sink on a thread); logs the sinks a child cannot build."""
    processes = config.delivery.processes
    if processes is None or processes == 0 or config.buffer.kind != "sqlite" or not real_time:
        return DeliveryPlan(in_process=list(config.sinks))
    cpus = os.cpu_count() or 1
    plan = plan_delivery(((s.name, s.common.type) for s in config.sinks.values()), processes, cpus, builds_anywhere)
    if len(plan.groups) > cpus:
        log.warning("delivery.processes = %s starts %d delivery processes on %d core(s): each is an interpreter with its "
                    "sinks' SDKs (~40-60 MiB), and more processes than cores add memory, not speed; \"auto\" takes one per core",
                    processes, len(plan.groups), cpus)
    for name in plan.not_buildable:
        log.info("sink %r stays on a thread of this process: its type %r is registered by this process, which a delivery "
                 "process cannot build", name, config.sinks[name].common.type)
    return plan


def lock_thread_sinks(config: Config, plan: DeliveryPlan, timeout: float, stop: threading.Event) -> list[SinkLock]:
    """Take the sink locks of the plan's sinks on threads when children deliver (now or before); BufferLockedError if one is held."""
    folder = Path(config.buffer.path)
    if not plan.in_process or not (plan.groups or (config.buffer.kind == "sqlite" and any_sink_locks(folder))):
        return []
    taken: list[SinkLock] = []
    for name in plan.in_process:
        lock = SinkLock(folder, name)
        if not lock.acquire(timeout, stop):
            for held in taken:
                held.release()
            raise BufferLockedError(f"sink {name!r} is still delivered by process {lock.holder()} (a delivery process of an "
                                    f"earlier sidecar?): its lock {lock.path} is held")
        taken.append(lock)
    return taken
