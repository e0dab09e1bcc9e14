"""`authlog demo`, the README's first command: every sink's stand-in receives every sample event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Why: the demo starts four stand-ins and a sidecar; two minutes only runs out when it hangs.
DEMO_TIMEOUT_SECONDS = 120


def test_demo_streams_every_event_to_every_stand_in(tmp_path: Path) -> None:
    """The demo exits 0, shows each sink with all events arrived, and leaves its config and NDJSON behind."""
    folder = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "shippers.cli", "demo", "--events", "120", "--dir", str(folder)],
        capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS, env={**os.environ, "COLUMNS": "200"},  # wide enough that table rows are not wrapped
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every sink received every event" in done.stdout
    for sink, kind in (("archive", "s3"), ("dd", "datadog"), ("gcl", "cloud_logging"), ("local", "file"), ("search", "elasticsearch")):
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"│ {sink} "))
        assert kind in row and row.count("120") == 2, row  # delivered and arrived
    assert (folder / "authlog.toml").exists()
    lines = [json.loads(line) for line in (folder / "out" / "events.ndjson").read_text().splitlines()]
    assert len(lines) == 120
    assert all(line["enrichment"]["geo"]["cityName"] and line["enrichment"]["as"]["number"] for line in lines)  # the demo databases
    # the showcase event as each destination stores it shows its geo: ECS, Datadog, the archive line / Cloud Logging payload
    assert '"city_name"' in done.stdout and '"geoip"' in done.stdout and '"cityName"' in done.stdout


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """The demo never wipes a folder that is not its own."""
    (tmp_path / "mine.txt").write_text("keep me")
    done = subprocess.run(
        [sys.executable, "-m", "shippers.cli", "demo", "--events", "10", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS,
    )
    assert done.returncode != 0 and "was not made by `authlog demo`" in done.stdout + done.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"
