"""The delivery plan: which sinks go to which delivery process (pure), and the warning for more processes than cores."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from shippers.config import config_from_dict
from shippers.delivery_process.placement import placement_for
from shippers.delivery_process.plan import AUTO_CAP, plan_delivery, process_count

FOUR = [("es", "elasticsearch"), ("s3", "s3"), ("dd", "datadog"), ("gcl", "cloud_logging")]


def everything(kind: str) -> bool:
    return True


def test_auto_keeps_a_single_sink_on_a_thread() -> None:
    """With one sink "auto" plans no delivery process (the single-sink figures stay as they were)."""
    plan = plan_delivery([("es", "elasticsearch")], "auto", 8, everything)
    assert plan.groups == [] and plan.in_process == ["es"]


def test_auto_takes_one_process_per_core_with_the_sinks_spread_evenly_in_name_order() -> None:
    """Four sinks on two cores: two processes of two sinks each, the same split whatever order the config lists them in."""
    plan = plan_delivery(FOUR, "auto", 2, everything)
    assert plan.groups == [["dd", "gcl"], ["es", "s3"]]
    assert plan_delivery(list(reversed(FOUR)), "auto", 2, everything) == plan
    assert plan.in_process == []


def test_auto_is_bounded_by_the_sinks_and_the_cap() -> None:
    """The "auto" plan never has more processes than sinks, nor more than AUTO_CAP however many cores there are."""
    assert process_count("auto", 3, 64) == 3
    assert process_count("auto", 40, 64) == AUTO_CAP
    assert process_count("auto", 4, 1) == 1


def test_a_number_is_taken_as_asked_up_to_one_process_per_sink() -> None:
    """processes = N plans N processes (at most one per sink), even with a single sink; 0 plans none."""
    assert [len(g) for g in plan_delivery(FOUR, 3, 1, everything).groups] == [2, 1, 1]
    assert plan_delivery(FOUR[:1], 1, 1, everything).groups == [["es"]]
    assert len(plan_delivery(FOUR, 9, 1, everything).groups) == 4
    zero = plan_delivery(FOUR, 0, 8, everything)
    assert zero.groups == [] and sorted(zero.in_process) == sorted(name for name, _ in FOUR)


def test_a_type_a_fresh_interpreter_cannot_build_stays_on_a_thread() -> None:
    """A sink whose type is registered in-process stays with the parent (and is named so it can be logged); the rest go."""
    plan = plan_delivery([("mem", "memory"), *FOUR], "auto", 2, lambda kind: kind != "memory")
    assert plan.in_process == ["mem"] and plan.not_buildable == ["mem"]
    assert sorted(name for group in plan.groups for name in group) == ["dd", "es", "gcl", "s3"]
    alone = plan_delivery([("mem", "memory")], 2, 2, lambda kind: kind != "memory")
    assert alone.groups == [] and alone.in_process == ["mem"]


def test_more_processes_than_cores_is_warned_about(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """An explicit `processes` above the machine's cores logs a warning naming the key, the count and the cores; "auto" does not."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    sinks = {f"f{i}": {"type": "file", "path": str(tmp_path / f"{i}.ndjson")} for i in range(4)}
    for processes, warned in ((4, True), ("auto", False), (2, False)):
        caplog.clear()
        config = config_from_dict({"buffer": {"path": str(tmp_path / "buffer")}, "sinks": sinks, "delivery": {"processes": processes}})
        with caplog.at_level(logging.WARNING, logger="shippers.delivery_process"):
            plan = placement_for(config, real_time=True)
        said = [r.getMessage() for r in caplog.records if "more processes than cores" in r.getMessage()]
        assert bool(said) == warned, (processes, said)
        if warned:
            assert "delivery.processes = 4" in said[0] and "4 delivery processes on 2 core(s)" in said[0]
            assert len(plan.groups) == 4
