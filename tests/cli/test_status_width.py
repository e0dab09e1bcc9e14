"""`authlog status` in an 80-column terminal: every sink name, state and number printed whole, nothing wider than 80."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from live_sidecar import REPO, LiveSidecar, free_port, write_config
from rich.console import Console

from shippers.cli.run_cmds import status_table

SINKS = {
    "elasticsearch-siem": {"type": "elasticsearch", "state": "retrying", "lagEvents": 1234567, "delivered": 987654321,
                           "duplicates": 12, "retries": 4321, "dlqEvents": 77, "dropped": 0,
                           "lastError": "HTTP 429 from https://es.example:9200/_bulk: too many requests " * 4},
    "archive": {"type": "s3", "state": "active", "lagEvents": 0, "delivered": 55, "duplicates": 0, "retries": 0,
                "dlqEvents": 0, "dropped": 0, "lastError": None},
    "cloud-logging-audit": {"type": "cloud_logging", "state": "failing", "lagEvents": 10, "delivered": 1,
                            "duplicates": 0, "retries": 2, "dlqEvents": 3, "dropped": 40960, "lastError": "PERMISSION_DENIED"},
    "dd": {"type": "datadog", "state": "blocked", "lagEvents": 5, "delivered": 0, "duplicates": 0, "retries": 0,
           "dlqEvents": 0, "dropped": 0},
}


def rendered(document: dict, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(status_table(document, console))
    return console.export_text()


def test_every_name_state_and_number_is_whole_at_80_columns() -> None:
    """At width 80 each row holds its sink's whole name, state and every count (with separators); no cell ends in '…'."""
    text = rendered({"version": "0.1.0", "sinks": SINKS}, 80)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for name, sink in SINKS.items():
        [row] = [line for line in text.splitlines() if line.startswith(name + " ")]
        numbers = [sink["lagEvents"], sink["delivered"], sink["retries"], sink["dlqEvents"], sink["dropped"]]
        assert sink["state"] in row.split(), row
        for number in numbers:
            assert f"{number:,}" in row.split(), (number, row)


def test_a_wide_terminal_shows_the_type_and_the_zero_columns_too() -> None:
    """With room (140 columns) no column is dropped: type and duplicates are there; at 80 the least important go first."""
    wide = rendered({"version": "0.1.0", "sinks": SINKS}, 140).splitlines()
    narrow = rendered({"version": "0.1.0", "sinks": SINKS}, 80).splitlines()
    header = next(line for line in wide if line.startswith("sink"))
    assert header.split() == ["sink", "type", "state", "lag", "delivered", "dups", "retries", "DLQ", "dropped"]
    narrow_header = next(line for line in narrow if line.startswith("sink")).split()
    assert {"sink", "state", "lag", "delivered", "retries", "DLQ", "dropped"} <= set(narrow_header)


def test_a_sink_name_longer_than_any_layout_folds_but_stays_whole() -> None:
    """A 70-character sink name at width 80 wraps onto more lines; joined back, every character is there."""
    name = "a-sink-name-that-someone-made-very-long-indeed-" + "x" * 23
    text = rendered({"sinks": {name: SINKS["archive"]}}, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert name in "".join(line.split(" ")[0] for line in text.splitlines() if line.strip())


def test_status_of_a_running_sidecar_in_80_columns(tmp_path: Path) -> None:
    """`authlog status` run in an 80-column terminal against a real sidecar prints the sink's row and its last error whole."""
    port = free_port()
    config = write_config(tmp_path, port)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    with LiveSidecar(config, port):
        result = subprocess.run([sys.executable, "-c", "from shippers.cli import main; main()", "status", "-c", str(config)],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    [row] = [line for line in result.stdout.splitlines() if line.startswith("local ")]
    assert row.split()[:3] == ["local", "file", "active"]


def test_a_terminal_too_narrow_for_any_table_lists_each_sink_whole() -> None:
    """At 20 columns (no table of the columns that always stay fits) each sink is listed field by field: no name, state or number cut."""
    text = rendered({"version": "0.1.0", "sinks": SINKS}, 20)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 20
    words = text.split()
    for name, sink in SINKS.items():
        assert name in "".join(text.split("\n")) or name in words, name
        for number in (sink["lagEvents"], sink["delivered"], sink["retries"], sink["dlqEvents"], sink["dropped"]):
            assert f"{number:,}" in words, (name, number)
        assert sink["state"] in words
