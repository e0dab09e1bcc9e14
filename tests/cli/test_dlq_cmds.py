"""authlog dlq list|replay|purge on a store with dead letters, with no sidecar running (the store is read directly)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from live_sidecar import free_port

from shippers.cli.main import cli
from shippers.shipper import Shipper
from shippers.testing import chaos


@pytest.fixture
def store_with_dead_letters(tmp_path: Path) -> Path:
    """A config whose 'r' sink dead-lettered e-3 and e-7 out of ten events; returns the config path."""
    config = tmp_path / "authlog.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{free_port()}"\n[buffer]\npath = "./buf"\n'
        '[sinks.r]\ntype = "chaos"\n[sinks.other]\ntype = "memory"\n'
    )
    chaos.script("r").reject_ids({"e-3", "e-7"})
    shipper = Shipper.from_config(config).start()
    try:
        shipper.ingest_raw([json.dumps({"id": f"e-{i}", "type": "login.completed"}).encode() for i in range(10)])
        assert shipper.flush(10)
    finally:
        shipper.close(5)
    chaos.script("r").rejected_ids.clear()
    return config


def test_list_shows_each_dead_letter_from_the_store(store_with_dead_letters: Path) -> None:
    """`dlq list` falls back to the store and shows sink, event id and reason; --json carries the events."""
    runner = CliRunner()
    result = runner.invoke(cli, ["dlq", "list", "-c", str(store_with_dead_letters)])
    assert result.exit_code == 0, result.output
    assert "2 dead letter(s)" in result.output and "e-3" in result.output and "e-7" in result.output
    assert "from store" in result.output
    letters = json.loads(runner.invoke(cli, ["dlq", "list", "-c", str(store_with_dead_letters), "--sink", "r", "--json"]).output)
    assert sorted(x["event"]["id"] for x in letters) == ["e-3", "e-7"] and all(x["sink"] == "r" for x in letters)


def test_replay_requeues_for_that_sink_only(store_with_dead_letters: Path) -> None:
    """`dlq replay --sink r` re-queues both letters: the DLQ is empty and they wait in r's backlog."""
    runner = CliRunner()
    result = runner.invoke(cli, ["dlq", "replay", "-c", str(store_with_dead_letters), "--sink", "r"])
    assert result.exit_code == 0, result.output
    assert "re-queued 2 dead letter(s) for r" in result.output
    assert "0 dead letter(s)" in runner.invoke(cli, ["dlq", "list", "-c", str(store_with_dead_letters)]).output
    status = json.loads(runner.invoke(cli, ["status", "-c", str(store_with_dead_letters), "--json"]).output)
    assert status["sinks"]["r"]["lagEvents"] == 2 and status["sinks"]["r"]["dlqEvents"] == 0


def test_purge_respects_older_than_and_confirmation(store_with_dead_letters: Path) -> None:
    """`purge --older-than 7d` keeps fresh letters; a declined prompt deletes nothing (exit 1); -y deletes them."""
    runner = CliRunner()
    config = str(store_with_dead_letters)
    assert "deleted 0" in runner.invoke(cli, ["dlq", "purge", "-c", config, "--older-than", "7d", "-y"]).output
    declined = runner.invoke(cli, ["dlq", "purge", "-c", config], input="n\n")
    assert declined.exit_code == 1 and "nothing deleted" in declined.output
    result = runner.invoke(cli, ["dlq", "purge", "-c", config, "--sink", "r", "-y"])
    assert result.exit_code == 0 and "deleted 2 dead letters of r" in result.output


def test_unknown_sink_and_bad_duration_are_usage_errors(store_with_dead_letters: Path) -> None:
    """An unknown --sink or an unreadable --older-than exits 2 with the fix."""
    runner = CliRunner()
    config = str(store_with_dead_letters)
    unknown = runner.invoke(cli, ["dlq", "replay", "-c", config, "--sink", "nope"])
    assert unknown.exit_code == 2 and "configured sinks: other, r" in unknown.output
    assert runner.invoke(cli, ["dlq", "purge", "-c", config, "--older-than", "soon", "-y"]).exit_code == 2
