"""An archive line read again: only lines we wrote (an id, a known schemaVersion) become events; OCSF stops the replay."""

from __future__ import annotations

import json

import pytest

from shippers.catalog import builtin_catalog
from shippers.event import EventValidator
from shippers.replay.lines import LineProblem, LineReader, NotAnArchive

LINE = {"id": "x1", "type": "user.locked", "reason": "locked", "time": "2026-11-10T05:00:00.000Z", "action": "old action",
        "outcome": "success", "description": "old", "schemaVersion": 1}
READER = LineReader(EventValidator(builtin_catalog()), None, lambda: 1_796_000_000.0)


def read(**changes: object) -> object:
    return READER.read(json.dumps({k: v for k, v in {**LINE, **changes}.items() if v is not None}).encode())


def test_the_catalog_fields_are_worked_out_again_and_the_id_and_time_kept() -> None:
    """action, outcome and description come from today's catalog; id and time are the archived ones."""
    event = read()
    assert not isinstance(event, LineProblem)
    assert (event.id, event.time, event.outcome) == ("x1", "2026-11-10T05:00:00.000Z", "failure")
    assert event.description != "old"


def test_a_line_without_an_id_or_of_an_unknown_schema_is_bad() -> None:
    """No id (a replay must not invent one) or a schemaVersion this version never wrote: a bad line saying why."""
    no_id, future = read(id=None), read(schemaVersion=99)
    assert isinstance(no_id, LineProblem) and no_id.message.startswith("id:")
    assert isinstance(future, LineProblem) and "schemaVersion 99" in future.message


def test_an_ocsf_line_stops_the_replay() -> None:
    """An OCSF line (class_uid, metadata, no schemaVersion) is not an archive: the whole prefix is refused."""
    with pytest.raises(NotAnArchive):
        READER.read(json.dumps({"class_uid": 3002, "metadata": {"uid": "x"}, "time": 1}).encode())


def test_a_line_nested_far_too_deep_is_a_bad_line_not_a_crash() -> None:
    """JSON nested 100,000 deep (under 1 MiB) is a bad line saying so, a million deep one too: the decoder's RecursionError never stops the replay."""
    for depth, says in ((100_000, "too deeply"), (1_000_000, "bytes long")):
        deep = b'{"id": "x1", "details": ' + b"[" * depth + b"]" * depth + b"}"
        problem = READER.read(deep)
        assert isinstance(problem, LineProblem) and says in problem.message, depth


def test_a_line_longer_than_any_sink_writes_is_bad_before_it_is_decoded() -> None:
    """A line past the sinks' 1 MiB per line is refused by its length (a huge list never becomes millions of Python objects)."""
    huge = json.dumps({**LINE, "details": {"n": list(range(400_000))}}).encode()
    problem = READER.read(huge)
    assert isinstance(problem, LineProblem) and "MiB" in problem.message and str(len(huge)) in problem.message.replace(",", "")
