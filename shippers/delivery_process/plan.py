"""Which sinks go to which delivery process (pure): ``[delivery] processes`` resolved against the machine.

``0`` keeps every sink on a thread of the lock holder (as before delivery processes existed).
``"auto"`` (``authlog run``'s default) is 0 with a single sink (one sink gains nothing from a
second interpreter and would pay ~40 MiB for it) and otherwise one process per core, at most one
per sink and at most :data:`AUTO_CAP`. ``N`` asks for N processes (at most one per sink). Sinks
are spread round-robin in name order: the same config gives the same plan on every start.
A sink a fresh interpreter cannot build (its type registered in-process by a test or an app,
not an entry point) stays on a thread of the parent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Why: beyond four children the summed RSS (each child is an interpreter with its sinks' SDKs,
# ~40-60 MiB) passes the 200 MB budget before the cores run out; the fan-out is four sinks.
AUTO_CAP = 4


@dataclass(frozen=True)
class DeliveryPlan:
    """The sinks each delivery process takes (``groups``) and those left on the parent's threads."""

    groups: list[list[str]] = field(default_factory=list)
    in_process: list[str] = field(default_factory=list)
    not_buildable: list[str] = field(default_factory=list)  # in_process because a child could not build them


def process_count(processes: int | str, sinks: int, cpus: int) -> int:
    """How many delivery processes ``processes`` asks for with ``sinks`` sinks on ``cpus`` cores."""
    if processes == "auto":
        return 0 if sinks <= 1 else min(max(cpus, 1), sinks, AUTO_CAP)
    return min(int(processes), sinks)


def plan_delivery(
    sinks: Iterable[tuple[str, str]], processes: int | str, cpus: int, buildable: Callable[[str], bool]
) -> DeliveryPlan:
    """``sinks`` as (name, type); ``buildable(type)``: whether a fresh interpreter can build that adapter."""
    ordered = sorted(sinks)
    count = process_count(processes, len(ordered), cpus)
    if count <= 0:
        return DeliveryPlan(in_process=[name for name, _ in ordered])
    remote: list[str] = []
    stuck: list[str] = []
    for name, kind in ordered:  # one buildable() call per sink, and none when every sink stays on a thread
        (remote if buildable(kind) else stuck).append(name)
    count = min(count, len(remote))
    groups = [remote[i::count] for i in range(count)]  # none when no sink is buildable
    return DeliveryPlan(groups=groups, in_process=stuck, not_buildable=stuck)
