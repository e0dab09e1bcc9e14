"""A lost store (zero-byte file, store file gone beside its traces, newer schema) is refused, never silently recreated;
``start_fresh`` (``authlog run --new-store``) moves a lost one aside on purpose and refuses to replace one that holds events."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_buffer_sqlite import events, policy

from shippers.buffer import SqliteBuffer
from shippers.errors import BufferCorruptError, BufferError

MAX = 10 * 1024 * 1024
REPO = Path(__file__).resolve().parents[2]
# Why: `authlog run` refusing a store exits before it listens; 60 s means it hangs instead.
CLI_TIMEOUT_SECONDS = 60


def start_fresh(folder: Path) -> Path | None:
    """``authlog run --new-store``'s step (imported here so the other tests run on a tree without it)."""
    from shippers.buffer.presence import start_fresh as move_lost_store_aside

    return move_lost_store_aside(folder)


def make_store(folder: Path, n: int = 0) -> None:
    buf = SqliteBuffer(folder, max_bytes=MAX)
    buf.register_sinks([policy("a")], remove_others=True)
    buf.acquire_delivery_lock()
    if n:
        buf.append(events(n))
    buf.close()


def test_zero_byte_store_is_refused_with_its_path_and_the_way_out(tmp_path: Path) -> None:
    """A zero-byte buffer.sqlite3 (a lost or unmounted volume) is refused naming the file and --new-store, and left as it was."""
    folder = tmp_path / "buf"
    folder.mkdir()
    (folder / "buffer.sqlite3").write_bytes(b"")
    with pytest.raises(BufferCorruptError) as caught:
        SqliteBuffer(folder, max_bytes=MAX)
    message = str(caught.value)
    assert str(folder / "buffer.sqlite3") in message and "0 bytes" in message and "--new-store" in message
    assert (folder / "buffer.sqlite3").stat().st_size == 0
    assert sorted(p.name for p in folder.iterdir()) == ["buffer.sqlite3"]


def test_missing_store_beside_its_traces_is_refused(tmp_path: Path) -> None:
    """A folder that held a store (its deliver.lock is there) but lost buffer.sqlite3 is refused, not refilled with an empty store."""
    folder = tmp_path / "buf"
    make_store(folder, 3)
    (folder / "buffer.sqlite3").unlink()
    with pytest.raises(BufferCorruptError) as caught:
        SqliteBuffer(folder, max_bytes=MAX)
    assert "deliver.lock" in str(caught.value) and "--new-store" in str(caught.value)
    assert not (folder / "buffer.sqlite3").exists()


def test_a_folder_that_never_held_a_store_gets_one(tmp_path: Path) -> None:
    """First runs keep working: a missing or empty folder gets a new store with the full schema."""
    for folder in (tmp_path / "new" / "buf", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        buf = SqliteBuffer(folder, max_bytes=MAX)
        buf.register_sinks([policy("a")], remove_others=True)
        assert buf.append(events(2)) == 2
        buf.close()
        assert (folder / "buffer.sqlite3").stat().st_size > 0
        assert not list(folder.glob("*.creating"))


def test_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    """A store written by a newer authlog (higher schema_version) is refused with what to do, and not modified."""
    folder = tmp_path / "buf"
    make_store(folder, 2)
    with sqlite3.connect(folder / "buffer.sqlite3") as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(BufferCorruptError, match="newer authlog .*schema 99.*upgrade"):
        SqliteBuffer(folder, max_bytes=MAX)
    with sqlite3.connect(folder / "buffer.sqlite3") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("99",)
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (2,)


def test_start_fresh_moves_a_zero_byte_store_aside(tmp_path: Path) -> None:
    """--new-store moves the zero-byte file (and its traces) into a dated folder beside it, then a new store opens."""
    folder = tmp_path / "buf"
    folder.mkdir()
    (folder / "buffer.sqlite3").write_bytes(b"")
    (folder / "deliver.lock").write_text("123\n")
    aside = start_fresh(folder)
    assert aside is not None and aside.parent == folder
    assert sorted(p.name for p in aside.iterdir()) == ["buffer.sqlite3", "deliver.lock"]
    buf = SqliteBuffer(folder, max_bytes=MAX)
    assert buf.stats()["events"] == 0
    buf.close()


def test_start_fresh_moves_the_traces_of_a_missing_store_aside(tmp_path: Path) -> None:
    """--new-store on a folder whose store file is gone moves the leftovers aside so a new store can be made."""
    folder = tmp_path / "buf"
    make_store(folder, 1)
    (folder / "buffer.sqlite3").unlink()
    aside = start_fresh(folder)
    assert aside is not None and (aside / "deliver.lock").exists()
    SqliteBuffer(folder, max_bytes=MAX).close()


def test_start_fresh_has_nothing_to_do_on_a_new_folder_or_an_empty_store(tmp_path: Path) -> None:
    """--new-store on a first run, or on a healthy store holding nothing, moves nothing."""
    assert start_fresh(tmp_path / "never") is None
    folder = tmp_path / "buf"
    make_store(folder, 0)
    assert start_fresh(folder) is None
    assert (folder / "buffer.sqlite3").exists()


def test_start_fresh_refuses_a_store_that_holds_events(tmp_path: Path) -> None:
    """--new-store never replaces a store with events in it (delivered to some sinks or not): it says how many and moves nothing."""
    folder = tmp_path / "buf"
    make_store(folder, 4)
    with pytest.raises(BufferError, match="holds 4 events") as caught:
        start_fresh(folder)
    assert "--new-store" in str(caught.value)
    assert SqliteBuffer(folder, max_bytes=MAX).stats()["events"] == 4


def test_start_fresh_refuses_a_damaged_store(tmp_path: Path) -> None:
    """--new-store refuses a file it cannot read (it may hold events): moving it aside is left to a person."""
    folder = tmp_path / "buf"
    folder.mkdir()
    (folder / "buffer.sqlite3").write_bytes(b"not sqlite" * 500)
    with pytest.raises(BufferCorruptError, match="cannot be read"):
        start_fresh(folder)
    assert (folder / "buffer.sqlite3").read_bytes().startswith(b"not sqlite")


def run_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = folder / "authlog.toml"
    config.write_text('[server]\nlisten = "127.0.0.1:1"\n\n[buffer]\npath = "./buf"\n\n[sinks.a]\ntype = "file"\npath = "./out.ndjson"\n')
    return subprocess.run(
        [sys.executable, "-c", "from shippers.cli import main; main()", "run", "-c", str(config), *args],
        cwd=folder, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=CLI_TIMEOUT_SECONDS,
    )


def test_authlog_run_refuses_a_zero_byte_store_and_names_new_store(tmp_path: Path) -> None:
    """`authlog run` on a zero-byte store exits 1 with the path and --new-store; --new-store refuses a store with events."""
    (tmp_path / "buf").mkdir()
    (tmp_path / "buf" / "buffer.sqlite3").write_bytes(b"")
    refused = run_cli(tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "buffer.sqlite3" in refused.stderr and "--new-store" in refused.stderr
    (tmp_path / "buf" / "buffer.sqlite3").unlink()
    (tmp_path / "buf").rmdir()
    make_store(tmp_path / "buf", 2)
    kept = run_cli(tmp_path, "--new-store")
    assert kept.returncode == 1, kept.stderr
    assert "holds 2 events" in kept.stderr
