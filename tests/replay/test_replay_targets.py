"""What replay tells up front about the destination: Datadog's window (skipped), Cloud Logging's retention (counted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from replay_kit import ArchiveWorld, iso, run_cli

DD = {"type": "datadog", "api_key": "dd-test-key-0123456789abcdef", "endpoint": "http://127.0.0.1:9"}
GCL = {"type": "cloud_logging", "project": "test-project", "endpoint": "http://127.0.0.1:9"}


def aged(now: datetime, ages: list[timedelta]) -> list[dict[str, Any]]:
    return [{"id": f"a-{n}", "type": "login.completed", "time": iso(now - age)} for n, age in enumerate(ages)]


def dry_run(world: ArchiveWorld, sink: str, config: Any, since: datetime) -> str:
    """The output of a dry run of the whole archive into ``sink``, on one line."""
    result = run_cli("replay", "-c", str(config), "--from", world.url, "--endpoint-url", world.s3.url, "--to-sink", sink,
                     "--since", iso(since), "--dry-run")
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_dry_run_into_datadog_skips_what_is_outside_its_window(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """Events older than 18 h are skipped and counted by reason before queueing; the rest would be queued; nothing is."""
    now = datetime.now(UTC)
    archive(aged(now, [timedelta(hours=1), timedelta(hours=2), timedelta(hours=30), timedelta(hours=40)]))
    output = dry_run(world, "dd", world.config({"dd": DD}), now - timedelta(days=3))
    assert "would queue 2 event(s) for sink dd" in output
    assert "skipped 2: older than Datadog's 18-hour window" in output
    assert "Datadog: no de-duplication" in output


def test_dry_run_into_cloud_logging_counts_entries_past_its_retention(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """Entries older than 30 days would be sent as the sink sends them, and are counted apart in the summary."""
    now = datetime.now(UTC)
    archive(aged(now, [timedelta(days=2), timedelta(days=40), timedelta(days=41)]))
    output = dry_run(world, "gcl", world.config({"gcl": GCL}), now - timedelta(days=60))
    assert "would queue 3 event(s) for sink gcl" in output
    assert "would queue 2 older than Cloud Logging's default 30-day retention" in output
