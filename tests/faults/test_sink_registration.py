"""Sink positions belong to the delivering process: a removed sink's backlog is kept or dropped on purpose (counted),
other processes never rewrite or add positions, and an older deliverer never sees a sink's PII view replayed."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shippers.buffer import presence
from shippers.buffer.presence import LOCK_FILE, start_fresh
from shippers.buffer.sqlite import SqliteBuffer
from shippers.cli.main import cli
from shippers.errors import BufferError, BufferFullError, BufferLockedError, SinkRemovedError
from shippers.event import encode_event
from shippers.shipper import Shipper
from shippers.testing import chaos, memory
from shippers.testing.events import full_event

HASH_KEY = "k" * 32


def config(folder: Path, sinks: dict[str, Any], **buffer: Any) -> dict[str, Any]:
    return {"buffer": {"path": str(folder), **buffer}, "sinks": sinks}


def toml(path: Path, folder: Path, sinks: list[str]) -> Path:
    lines = [f'[buffer]\npath = "{folder}"\n']
    lines += [f'[sinks.{name}]\ntype = "memory"\n' for name in sinks]
    path.write_text("\n".join(lines))
    return path


def backlog_for_siem(folder: Path, fake_sleep: Any, n: int = 5) -> None:
    """Deliver to archive and siem while siem is down: siem keeps n undelivered events."""
    chaos.script("siem").permanent("503 outage", sticky=True)
    both = config(folder, {"archive": {"type": "memory"}, "siem": {"type": "chaos"}})
    shipper = Shipper.from_config(both, sleep=fake_sleep, deliver=True)
    for i in range(n):
        shipper.emit("login.completed", userId=f"u{i}")
    shipper.close(2)


def test_a_deliverer_whose_config_lacks_a_sink_with_a_backlog_refuses_and_the_sink_resumes_when_put_back(tmp_path: Path, fake_sleep: Any) -> None:
    """Removing (or renaming) a sink that holds undelivered events stops delivery with a message instead of deleting its backlog."""
    folder = tmp_path / "buf"
    backlog_for_siem(folder, fake_sleep)
    only_archive = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}), sleep=fake_sleep)
    with pytest.raises(SinkRemovedError, match=r"sink 'siem' .*5 undelivered event.*authlog sinks forget siem"):
        only_archive.start()
    assert not only_archive.delivering
    only_archive.emit("login.completed", userId="while-refused")  # appending still works
    only_archive.close(1)
    renamed = Shipper.from_config(config(folder, {"archive": {"type": "memory"}, "siem2": {"type": "chaos"}}), sleep=fake_sleep)
    with pytest.raises(SinkRemovedError, match="sink 'siem'"):
        renamed.start()
    renamed.close(1)
    chaos.reset()
    back = Shipper.from_config(config(folder, {"archive": {"type": "memory"}, "siem": {"type": "chaos"}}), sleep=fake_sleep, deliver=True)
    assert back.flush(10)
    assert sorted(e.userId for e in chaos.delivered["siem"]) == sorted([f"u{i}" for i in range(5)] + ["while-refused"])
    assert back.status()["sinks"]["siem"]["dropped"] == 0
    back.close(2)


def test_a_standby_process_whose_config_lacks_a_backlogged_sink_lets_the_lock_go(tmp_path: Path, fake_sleep: Any) -> None:
    """An app worker that cannot deliver (a removed sink holds events) does not keep the delivery lock from a process that can."""
    folder = tmp_path / "buf"
    backlog_for_siem(folder, fake_sleep)
    app = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}), sleep=fake_sleep).start(standby=True)
    assert not app.delivering
    assert app.status()["errors"] and "siem" in app.status()["errors"][0]
    other = SqliteBuffer(folder, max_bytes=1 << 20)
    assert other.acquire_delivery_lock()
    other.close()
    app.close(1)


def test_a_refusing_standby_logs_its_refusal_once(tmp_path: Path, fake_sleep: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Each retry of a refusing standby process finds a bigger backlog; the error is logged once, not every few seconds."""
    folder = tmp_path / "buf"
    backlog_for_siem(folder, fake_sleep)
    app = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}), sleep=fake_sleep)
    with caplog.at_level(logging.ERROR):
        for i in range(3):  # what the standby thread does every STANDBY_RETRY_SECONDS
            app.emit("login.completed", userId=f"more{i}")
            assert app.buffer.acquire_delivery_lock()
            assert not app._try_start_workers(raise_refusal=False)
    assert len([r for r in caplog.records if "not delivering" in r.getMessage()]) == 1
    assert "8 undelivered" in app.status()["errors"][0]
    app.close(1)


def test_sinks_forget_drops_the_backlog_counted_and_lets_delivery_start(tmp_path: Path, fake_sleep: Any) -> None:
    """`authlog sinks forget` is the explicit way to drop a removed sink's backlog; the drop is counted in status and metrics."""
    folder = tmp_path / "buf"
    backlog_for_siem(folder, fake_sleep)
    cfg = toml(tmp_path / "authlog.toml", folder, ["archive"])
    result = CliRunner().invoke(cli, ["sinks", "forget", "siem", "-y", "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "dropped 5" in result.output
    shipper = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}), sleep=fake_sleep, deliver=True)
    status = shipper.status()
    assert status["dropped"] == {"sink_removed": 5}
    assert status["forgottenSinks"] == {"siem": {"dropped": 5, "reason": "sink_removed"}}
    assert 'authlog_events_dropped_total{reason="sink_removed"} 5.0' in shipper.metrics.render().decode()
    shipper.close(2)


def test_sinks_forget_refuses_while_a_process_delivers(tmp_path: Path, fake_sleep: Any) -> None:
    """Forgetting a sink under a running deliverer would pull its position from under its worker: it is refused."""
    folder = tmp_path / "buf"
    backlog_for_siem(folder, fake_sleep)
    holder = SqliteBuffer(folder, max_bytes=1 << 20)
    assert holder.acquire_delivery_lock()
    cfg = toml(tmp_path / "authlog.toml", folder, ["archive"])
    result = CliRunner().invoke(cli, ["sinks", "forget", "siem", "-y", "-c", str(cfg)])
    assert result.exit_code != 0
    assert "delivers" in result.output
    holder.close()
    assert {r.name for r in SqliteBuffer(folder, max_bytes=1 << 20).sinks()} == {"archive", "siem"}


def test_a_caught_up_sink_removed_from_the_config_is_dropped_without_fuss(tmp_path: Path) -> None:
    """A removed sink with nothing undelivered loses only its position (nothing to keep), so delivery starts."""
    folder = tmp_path / "buf"
    both = Shipper.from_config(config(folder, {"archive": {"type": "memory"}, "other": {"type": "memory"}}), deliver=True)
    both.emit("login.completed", userId="u")
    assert both.flush(10)
    both.close(2)
    one = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}), deliver=True)
    assert one.delivering
    assert [r.name for r in one.buffer.sinks()] == ["archive"]
    one.close(2)


def test_only_the_deliverer_writes_sink_policies(tmp_path: Path, fake_sleep: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Another process opening the store with another when_full does not turn a blocking sink into a dropping one."""
    folder = tmp_path / "buf"
    chaos.script("siem").permanent("503 down", sticky=True)
    side = Shipper.from_config(config(folder, {"siem": {"type": "chaos", "max_backlog": "16KiB"}}), sleep=fake_sleep, deliver=True)
    with caplog.at_level(logging.WARNING):
        Shipper.from_config(config(folder, {"siem": {"type": "chaos", "max_backlog": "16KiB", "when_full": "drop_oldest"}})).close(0)
    assert any("when_full" in r.getMessage() and "siem" in r.getMessage() for r in caplog.records)
    with pytest.raises(BufferFullError):
        for i in range(400):
            side.emit("login.completed", userId=f"u{i}")
    assert side.status()["sinks"]["siem"]["dropped"] == 0
    side.close(1)


def test_a_sink_only_a_non_deliverer_knows_pins_nothing(tmp_path: Path) -> None:
    """A sink in a non-delivering process's config gets no position, so it never fills the store; status names the mismatch."""
    folder = tmp_path / "buf"
    side = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}, max_bytes="64KiB"), deliver=True)
    other = Shipper.from_config(config(folder, {"archive": {"type": "memory"}, "newsink": {"type": "memory"}}, max_bytes="64KiB"))
    assert [r.name for r in side.buffer.sinks()] == ["archive"]
    assert any("newsink" in e for e in other.status()["errors"])
    other.close(0)
    for i in range(400):  # ~90 KiB in all: more than the store holds, unless archive's deliveries free it
        side.emit("login.completed", userId=f"u{i}")
        if i % 50 == 0:
            assert side.flush(10)
    assert side.flush(10)
    side.close(2)


def test_the_deliverer_status_names_a_stored_sink_its_config_lacks(tmp_path: Path) -> None:
    """A position written by another version's process for a sink the deliverer lacks is reported as an error, not hidden."""
    folder = tmp_path / "buf"
    side = Shipper.from_config(config(folder, {"archive": {"type": "memory"}}), deliver=True)
    db = sqlite3.connect(folder / "buffer.sqlite3")
    db.execute("INSERT INTO sinks (name, type, watermark, watermark_cum, cut_through, when_full) VALUES ('ghost', 'memory', 0, 0, 0, 'block')")
    db.commit()
    db.close()
    errors = side.status()["errors"]
    assert any("ghost" in e for e in errors)
    side.close(2)


def test_events_appended_before_any_deliverer_reach_its_sinks(tmp_path: Path) -> None:
    """On a store where no deliverer has registered sinks yet, events producers appended are delivered (not skipped as 'before the tail')."""
    folder = tmp_path / "buf"
    cfg = config(folder, {"archive": {"type": "memory"}})
    early = Shipper.from_config(cfg)
    early.emit("login.completed", userId="early")
    early.close(0)
    late = Shipper.from_config(cfg, deliver=True)
    assert late.flush(10)
    assert [e.userId for e in memory.MemoryAdapter.delivered["archive"]] == ["early"]
    late.close(2)


# -- rolling upgrade: an older deliverer -------------------------------------------------------


def raw_dead_letter(folder: Path) -> None:
    """What a schema-1 store holds: a dead letter kept raw (pii NULL)."""
    body = encode_event(full_event("login.completed", email="ana@example.com"))
    db = sqlite3.connect(folder / "buffer.sqlite3")
    db.execute("INSERT INTO dead_letters (sink, seq, code, reason, at, body, pii) VALUES ('siem', 1, 'x', 'r', 0, ?, NULL)", (body,))
    db.execute("UPDATE stats SET dlq_events=dlq_events+1, dlq_bytes=dlq_bytes+?", (len(body),))
    db.commit()
    db.close()


def hold_lock_as_old_version(folder: Path) -> int:
    """Hold deliver.lock the way a schema-1 authlog does (its pid only)."""
    fd = os.open(folder / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(fd, 0)
    os.write(fd, b"4242\n")
    return fd


def siem_hashing(folder: Path) -> dict[str, Any]:
    return config(folder, {"siem": {"type": "memory", "pii": {"email": "hash", "hash_key": HASH_KEY}}})


def test_a_non_deliverer_neither_converts_nor_replays_under_an_older_deliverer(tmp_path: Path) -> None:
    """While a schema-1 deliverer holds the lock, dead letters are not converted to the sink's view and `dlq replay` is refused."""
    folder = tmp_path / "buf"
    Shipper.from_config(siem_hashing(folder)).close(0)
    raw_dead_letter(folder)
    fd = hold_lock_as_old_version(folder)
    try:
        shipper = Shipper.from_config(siem_hashing(folder))
        assert shipper.buffer.dead_letter_tags("siem") == {None: 1}
        with pytest.raises(BufferLockedError, match=r"pid 4242.*older authlog.*schema 1"):
            shipper.replay_dead_letters("siem")
        assert shipper.buffer.dead_letter_count("siem") == 1
        shipper.close(0)
    finally:
        os.close(fd)
    deliverer = Shipper.from_config(siem_hashing(folder), deliver=True)
    assert set(deliverer.buffer.dead_letter_tags("siem")) == {deliverer.pii["siem"].tag}
    assert (folder / LOCK_FILE).read_text().split() == [str(os.getpid()), "schema=2"]
    deliverer.close(2)


# -- a full disk while converting dead letters -------------------------------------------------


def test_a_full_disk_while_converting_dead_letters_defers_the_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """convert_dead_letters on a full disk raises a store error (not sqlite3's), and a deliverer starts anyway and converts later."""
    folder = tmp_path / "buf"
    Shipper.from_config(siem_hashing(folder)).close(0)
    bodies = [encode_event(full_event("login.completed", id=f"0193a5e2-7c1d-7abc-8def-{i:012d}")) for i in range(3000)]
    db = sqlite3.connect(folder / "buffer.sqlite3")
    db.executemany("INSERT INTO dead_letters (sink, seq, code, reason, at, body, pii) VALUES ('siem', ?, 'x', 'r', 0, ?, NULL)", list(enumerate(bodies)))
    db.execute("UPDATE stats SET dlq_events=3000, dlq_bytes=?", (sum(map(len, bodies)),))
    db.commit()
    db.close()
    original = SqliteBuffer._conn
    disk = {"full": True}

    def full_disk(self: SqliteBuffer) -> sqlite3.Connection:
        conn = original(self)
        # 1 is below the file's size: the file cannot grow (SQLite's largest page count when the disk has room again).
        conn.execute(f"PRAGMA max_page_count={1 if disk['full'] else 1073741823}")
        return conn

    monkeypatch.setattr(SqliteBuffer, "_conn", full_disk)
    shipper = Shipper.from_config(siem_hashing(folder))
    with pytest.raises(BufferFullError):
        shipper.buffer.convert_dead_letters({"siem": shipper.pii["siem"].convert_letter})
    shipper.start()
    assert shipper.delivering
    assert shipper.buffer.raw_dead_letters() == {"siem": 3000}
    disk["full"] = False
    assert shipper.convert_pending_dead_letters()
    assert shipper.buffer.raw_dead_letters() == {}
    shipper.close(2)


# -- two --new-store at once ---------------------------------------------------------------------


def test_two_new_store_runs_on_one_lost_store_do_not_interleave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second `--new-store` waits for the first to finish moving files, then finds the new store and leaves it alone."""
    folder = tmp_path / "buf"
    folder.mkdir()
    (folder / "buffer.sqlite3").write_bytes(b"")  # a lost store
    (folder / "buffer.sqlite3-wal").write_bytes(b"x")
    real_held = presence._refuse_if_in_use
    second: dict[str, Any] = {}
    second_waits = threading.Event()
    second_done = threading.Event()
    real_lock = getattr(presence, "_lock_folder", None)

    def lock_folder(path: Path) -> Any:
        if threading.current_thread().name == "second":
            second_waits.set()
        assert real_lock is not None
        return real_lock(path)

    def run_second() -> None:
        try:
            second["result"] = start_fresh(folder)
        except BufferError as exc:
            second["error"] = exc
        finally:
            second_done.set()

    def first_checked(path: Path) -> Any:
        result = real_held(path)
        if threading.current_thread().name != "second" and "thread" not in second:
            second["thread"] = threading.Thread(target=run_second, name="second")
            second["thread"].start()
            # Until the second run either finished (no exclusion) or is waiting for the first to let go.
            while not (second_waits.is_set() or second_done.is_set()):
                second_done.wait(0.01)
        return result

    monkeypatch.setattr(presence, "_refuse_if_in_use", first_checked)
    monkeypatch.setattr(presence, "_lock_folder", lock_folder, raising=False)
    aside = start_fresh(folder)
    assert aside is not None and (aside / "buffer.sqlite3").exists()
    made = SqliteBuffer(folder, max_bytes=1 << 20)  # the first run goes on to create its store
    made.append([(full_event("login.completed"), encode_event(full_event("login.completed")))])
    second["thread"].join(30)
    assert not second["thread"].is_alive()
    # It found nothing left to move, or the first run's working store (which it refuses to replace).
    assert second.get("result") is None and "working store" in str(second.get("error", "working store")), second
    assert made.last_seq() == 1 and (folder / "buffer.sqlite3").stat().st_size > 0
    assert len(list(folder.glob("replaced-*"))) == 1
    made.close()


def test_authlog_run_refuses_to_start_when_a_removed_sink_holds_events(
    tmp_path: Path, fake_sleep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sidecar exits with the removed sink's name, its backlog and the command that drops it, instead of deleting it."""
    folder = tmp_path / "buf"
    backlog_for_siem(folder, fake_sleep)

    async def served_and_stopped(*args: Any) -> float:  # a sidecar that got as far as serving stops at once (no hang)
        return 0.0

    monkeypatch.setattr("shippers.sidecar.server._serve", served_and_stopped)
    cfg = toml(tmp_path / "authlog.toml", folder, ["archive"])
    result = CliRunner().invoke(cli, ["run", "-c", str(cfg)])
    assert result.exit_code == 1, result.output
    assert "sink 'siem' was removed from the config" in result.output and "authlog sinks forget siem" in result.output
    assert {r.name for r in SqliteBuffer(folder, max_bytes=1 << 20).sinks()} == {"archive", "siem"}
