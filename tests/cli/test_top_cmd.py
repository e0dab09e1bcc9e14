"""`authlog top`: driven in an 80x24 pseudo-terminal against a real sidecar, and its rates and screen built from documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from live_sidecar import REPO, LiveSidecar, free_port, write_config
from pty_screen import PtyScreen
from rich.console import Console

from shippers.cli.top_view import RateMeter, format_age, frame

CLI = "from shippers.cli import main; main()"
# A second sink that cannot deliver: nothing listens on its port, so it fails, keeps a backlog and says why.
DOWN_SINK = '\n[sinks.siem]\ntype = "elasticsearch"\nhosts = ["http://127.0.0.1:{port}"]\nretry = {{ initial = "1s", max = "1s" }}\n'


def events(n: int, prefix: str) -> list[bytes]:
    return [json.dumps({"id": f"{prefix}-{i}", "type": "login.completed"}).encode() for i in range(n)]


def row(rows: list[str], sink: str) -> list[str]:
    """The cells of the sink's row on the screen ([] when it is not shown)."""
    found = [line.split() for line in rows if line.startswith(sink + " ")]
    return found[0] if found else []


def test_top_in_a_terminal_shows_each_sink_live_and_q_quits(tmp_path: Path) -> None:
    """In 80x24: both sinks' rows whole (state, backlog, DLQ), the failing one's error, backlog growing live, stale once the sidecar stops, q exits 0."""
    port = free_port()
    config = write_config(tmp_path, port, extra=DOWN_SINK.format(port=free_port()))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with LiveSidecar(config, port) as sidecar:
        client = sidecar.client()
        assert client.send_lines(events(300, "a")).accepted == 300
        sidecar.wait_caught_up("local", expected_delivered=300)
        with PtyScreen([sys.executable, "-c", CLI, "top", "-c", str(config), "--interval", "0.2"], cwd=str(tmp_path),
                       env=env) as terminal:
            screen = terminal.wait_for(lambda rows: row(rows, "siem")[1:2] == ["failing"] and row(rows, "local"),
                                       "the failing sink and the file sink")
            header = next(line for line in screen if line.startswith("sink"))
            assert header.split() == ["sink", "state", "in/s", "out/s", "backlog", "oldest", "retries", "DLQ", "type"]
            local, siem = row(screen, "local"), row(screen, "siem")
            assert (local[1], local[4], local[7]) == ("active", "0", "0")
            assert (siem[4], siem[7]) == ("300", "0")
            assert any(line.startswith("last error siem: ") for line in screen)
            assert not any("…" in line for line in screen)

            assert client.send_lines(events(500, "b")).accepted == 500
            terminal.wait_for(lambda rows: row(rows, "siem")[4:5] == ["800"], "the backlog of 800 after 500 more")

            sidecar.terminate()
            terminal.wait_for(lambda rows: any(line.startswith("stale: ") for line in rows), "the screen marked stale")
            assert row(terminal.text(), "siem")[4] == "800"  # the last known numbers stay up
            terminal.type("q")
            assert terminal.wait_exit() == 0


def test_once_prints_one_screen_without_a_terminal(tmp_path: Path) -> None:
    """`top --once` through a pipe prints the screen once and exits 0; plain `top` through a pipe is a usage error (2)."""
    port = free_port()
    config = write_config(tmp_path, port)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    with LiveSidecar(config, port):
        once = subprocess.run([sys.executable, "-c", CLI, "top", "-c", str(config), "--once"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
        piped = subprocess.run([sys.executable, "-c", CLI, "top", "-c", str(config)], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert once.returncode == 0, once.stderr
    assert row(once.stdout.splitlines(), "local")[:2] == ["local", "active"]
    assert piped.returncode == 2
    assert "needs a terminal" in piped.stderr


def test_rates_are_counter_differences_over_the_monotonic_time_between_refreshes() -> None:
    """Out is delivered+duplicates per second; in adds dead letters, drops and backlog growth; first frame and a counter going back show none."""
    meter = RateMeter()
    first = {"sinks": {"s": {"delivered": 100, "duplicates": 0, "deadLettered": 0, "dropped": 0, "lagEvents": 50}}}
    assert meter.update(first, at=10.0) == {"s": (None, None)}
    second = {"sinks": {"s": {"delivered": 180, "duplicates": 20, "deadLettered": 10, "dropped": 0, "lagEvents": 90}}}
    # routed: 150 -> 300 in 2 s = 75/s; out: 100 -> 200 in 2 s = 50/s
    assert meter.update(second, at=12.0) == {"s": (75.0, 50.0)}
    back = {"sinks": {"s": {"delivered": 5, "duplicates": 0, "deadLettered": 0, "dropped": 0, "lagEvents": 0}}}
    assert meter.update(back, at=13.0) == {"s": (None, None)}


def test_a_screen_at_80_columns_keeps_numbers_whole_and_ages_readable() -> None:
    """A frame of two sinks at width 80: rates, backlogs, ages and DLQ sizes whole; the store's fill shown in percent."""
    document = {
        "version": "0.1.0", "uptimeSeconds": 7322.0,
        "buffer": {"events": 1_500_000, "bytes": 512 * 1024**2, "maxBytes": 1024**3},
        "sinks": {
            "elasticsearch-siem": {"type": "elasticsearch", "state": "retrying", "lagEvents": 1_234_567, "retries": 4321,
                                   "dlqEvents": 17, "oldestPendingAgeSeconds": 3725.0, "lastError": "HTTP 429"},
            "archive": {"type": "s3", "state": "active", "lagEvents": 0, "retries": 0, "dlqEvents": 0},
        },
    }
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    console.print(frame(document, {"elasticsearch-siem": (12_345.6, 0.4), "archive": (12_345.6, 12_345.6)}, "sidecar x",
                        width_of=console, wall=0.0))
    rows = console.export_text().splitlines()
    assert max(len(line) for line in rows) <= 80 and not any("…" in line for line in rows)
    assert row(rows, "elasticsearch-siem") == ["elasticsearch-siem", "retrying", "12,346", "0.4", "1,234,567", "1h02m", "4,321", "17"]
    assert row(rows, "archive") == ["archive", "active", "12,346", "12,346", "0", "-", "0", "0"]
    assert "buffer 1,500,000 events, 512.0MiB of 1.0GiB (50%)" in rows[1]
    assert "up 2h02m" in rows[0]
    assert "last error elasticsearch-siem: HTTP 429" in rows
    assert [format_age(s) for s in (None, 9.9, 65, 3725, 90061)] == ["-", "9s", "1m05s", "1h02m", "1d01h"]


def test_a_screen_20_columns_wide_lists_each_sink_field_by_field_with_nothing_cut() -> None:
    """At width 20 no table fits: each sink's state, rates, backlog, age, retries and DLQ are listed whole, none cut to '12…'."""
    document = {"version": "0.1.0", "uptimeSeconds": 5.0, "buffer": {"events": 1, "bytes": 1, "maxBytes": 1024},
                "sinks": {"elasticsearch-siem": {"type": "elasticsearch", "state": "retrying", "lagEvents": 1_234_567,
                                                 "retries": 4321, "dlqEvents": 17, "oldestPendingAgeSeconds": 3725.0}}}
    console = Console(width=20, record=True, force_terminal=False, color_system=None)
    console.print(frame(document, {"elasticsearch-siem": (12_345.6, 0.4)}, "sidecar x", width_of=console, wall=0.0))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 20 and "…" not in text
    assert {"retrying", "12,346", "0.4", "1,234,567", "1h02m", "4,321", "17"} <= set(text.split())
    assert "elasticsearch-siem" in text.replace("\n", "")
