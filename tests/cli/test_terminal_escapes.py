"""What others wrote (archive keys and lines, a destination's answer, the sidecar's errors) reaches the terminal without its escape sequences."""

from __future__ import annotations

from rich.console import Console

from shippers.cli.replay_view import summary_lines
from shippers.cli.top_view import frame
from shippers.quoting import folded, printable
from shippers.replay.run import Problem, Summary

CLEAR_SCREEN = "\x1b[2J"
SET_TITLE = "\x1b]0;all good\x1b\\"


def test_replay_lists_a_key_and_a_line_with_escape_sequences_escaped() -> None:
    """A bucket key and a bad line's message holding ESC sequences are printed with \\x1b in their place."""
    summary = Summary(objects=1, bad_lines=1, problems=[Problem(f"dt=2026-11-10/hour=05/{CLEAR_SCREEN}x.ndjson.gz", 3,
                                                                f"type: unknown {SET_TITLE!r} \x9b31m")])
    text = "\n".join(summary_lines(summary, sink="search", sink_type="elasticsearch", dry_run=True, seconds=1.0))
    assert "\x1b" not in text and "\x9b" not in text
    assert "dt=2026-11-10/hour=05/\\x1b[2Jx.ndjson.gz line 3" in text


def test_top_shows_a_destinations_answer_and_the_sidecars_errors_escaped() -> None:
    """A sink's last error and a status error holding ESC sequences reach the screen as \\x1b, the rest of the text kept."""
    document = {"version": "0.1.0", "buffer": {}, "errors": [f"store {CLEAR_SCREEN}"],
                "sinks": {"siem": {"state": "failing", "lastError": f"HTTP 400: {SET_TITLE}bad"}}}
    console = Console(width=80, record=True, force_terminal=True)
    console.print(frame(document, {}, "sidecar", width_of=console, wall=0.0))
    text = console.export_text(styles=False)
    assert CLEAR_SCREEN not in text and "]0;" not in text.replace("\\x1b]0;", "")
    assert "siem: HTTP 400: \\x1b]0;all good\\x1b\\bad" in text and "error: store \\x1b[2J" in text


def test_top_shows_why_the_sidecar_did_not_answer_escaped() -> None:
    """The client's reason for a missing status (it may quote what answered) reaches the screen as \\x1b, stale or first."""
    for document in (None, {"version": "0.1.0", "buffer": {}, "sinks": {}}):
        console = Console(width=80, record=True, force_terminal=True)
        console.print(frame(document, {}, "sidecar", width_of=console, problem=f"HTTP 502: {CLEAR_SCREEN}", wall=0.0))
        text = console.export_text(styles=False)
        assert CLEAR_SCREEN not in text and "HTTP 502: \\x1b[2J" in text


def test_folded_and_printable_escape_every_control_character_and_keep_the_rest() -> None:
    """C0, DEL and C1 controls become \\xNN; letters, accents and emoji stay; folded still folds whitespace first."""
    assert printable("a\x00b\x7fc\x9bd é 🙂") == "a\\x00b\\x7fc\\x9bd é 🙂"
    assert folded("line one\n\tline two\x1b[1m", 100) == "line one line two\\x1b[1m"
