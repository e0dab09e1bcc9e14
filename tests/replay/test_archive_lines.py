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
