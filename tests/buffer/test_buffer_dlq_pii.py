"""The buffer's side of PII-safe dead letters: tags are stored and carried by replays, schema 1 stores are upgraded once, raw letters are converted or withheld."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from shippers.buffer import DeadItem, SinkPolicy, SqliteBuffer
from shippers.buffer.sqlite import SCHEMA_VERSION
from shippers.catalog import builtin_catalog
from shippers.errors import BufferCorruptError
from shippers.event import EventValidator, decode_event, encode_event

VALIDATOR = EventValidator(builtin_catalog(), clock=lambda: 1_795_000_000.0)
EVENT = VALIDATOR.from_fields({"type": "login.completed", "id": "e1", "email": "ana@example.com", "ip": "203.0.113.7", "userAgent": "UA/1"})
BODY = encode_event(EVENT)
TAG = "email=drop;ip=keep;userAgent=keep"
SCHEMA_1_DLQ = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE stats (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL, last_cum INTEGER NOT NULL,"
    " gc_seq INTEGER NOT NULL, gc_cum INTEGER NOT NULL, dlq_bytes INTEGER NOT NULL, dlq_events INTEGER NOT NULL);"
    "INSERT INTO stats VALUES (1, 0, 0, 0, 0, 0, 0);"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, received REAL NOT NULL, type TEXT NOT NULL, outcome TEXT NOT NULL,"
    " tenant TEXT, only_sink TEXT, cum INTEGER NOT NULL, body BLOB NOT NULL);"
    "CREATE TABLE sinks (name TEXT PRIMARY KEY, type TEXT NOT NULL, watermark INTEGER NOT NULL, watermark_cum INTEGER NOT NULL,"
    " cut_through INTEGER NOT NULL, when_full TEXT NOT NULL, max_backlog INTEGER, delivered INTEGER NOT NULL DEFAULT 0,"
    " duplicates INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0, dead_lettered INTEGER NOT NULL DEFAULT 0,"
    " dropped INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'active', last_error TEXT, last_delivery_at REAL);"
    "CREATE TABLE batches (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, partition TEXT NOT NULL, key TEXT,"
    " first_seq INTEGER NOT NULL, seqs BLOB NOT NULL, created REAL NOT NULL);"
    "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, seq INTEGER NOT NULL,"
    " code TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL, body BLOB NOT NULL);"
    "INSERT INTO meta VALUES ('schema_version', '1'); INSERT INTO meta VALUES ('store_id', 'abc');"
)


def make_schema_1(folder: Path, extra_sql: str = "") -> Path:
    folder.mkdir()
    db = sqlite3.connect(folder / "buffer.sqlite3")
    db.executescript(SCHEMA_1_DLQ + extra_sql)
    db.execute("INSERT INTO dead_letters (sink, seq, code, reason, at, body) VALUES ('a', 1, 'x', 'refused ana@example.com', 1.0, ?)", (BODY,))
    db.execute("UPDATE stats SET dlq_bytes=?, dlq_events=1", (len(BODY),))
    db.commit()
    db.close()
    return folder / "buffer.sqlite3"


def query(file: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(file)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def columns(file: Path, table: str) -> list[str]:
    return [r[1] for r in query(file, f"PRAGMA table_info({table})")]


def test_a_dead_letters_tag_is_kept_and_rides_along_on_replay(tmp_path: Path) -> None:
    """A dead letter's tag comes back on read and on the replayed event row (so the batcher does not apply the policy again), and is collected with the event."""
    buffer = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    buffer.register_sinks([SinkPolicy("a", "memory", "block", None, "tail")], remove_others=True)
    buffer.append([(EVENT, BODY)])
    [stored] = buffer.scan(0, 10)
    assert stored.pii is None  # a producer-sent event is raw
    buffer.record_cut("a", [], [DeadItem(1, "x", "bad", BODY, TAG)], 1)
    [letter] = buffer.dead_letters("a")
    assert letter.pii == TAG and letter.event.email == "ana@example.com"  # a tagged letter is shown as stored
    assert buffer.dead_letter_tags("a") == {TAG: 1}
    assert buffer.replay_dead_letters("a") == 1
    [replayed] = buffer.scan(1, 10)
    assert (replayed.only_sink, replayed.pii, replayed.body) == ("a", TAG, BODY)
    assert buffer.read([2]) == [replayed]  # a recorded batch re-cut after a restart sees the tag too
    [batch] = buffer.record_cut("a", [("", None, [2])], [], 2)
    buffer.settle(batch, delivered=1)
    assert buffer.stats()["events"] == 0 and query(buffer.file, "SELECT count(*) FROM replayed") == [(0,)]  # collected with its event


def test_schema_1_store_is_upgraded_once(tmp_path: Path) -> None:
    """Opening a schema-1 store adds the pii column and the replayed table and bumps the version; its raw letter is withheld on read until converted."""
    file = make_schema_1(tmp_path / "buf")
    buffer = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    assert "pii" in columns(file, "dead_letters") and columns(file, "replayed") == ["seq", "pii"]
    assert query(file, "SELECT value FROM meta WHERE key='schema_version'") == [(str(SCHEMA_VERSION),)]
    [letter] = buffer.dead_letters()
    assert (letter.pii, letter.event.email, letter.event.ip, letter.event.userAgent) == (None, None, None, None)
    assert "ana@example.com" not in letter.reason
    buffer.close()
    SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024).close()  # a second open is a no-op
    assert columns(file, "dead_letters").count("pii") == 1


def test_a_failed_upgrade_leaves_schema_1_untouched(tmp_path: Path) -> None:
    """The upgrade is one transaction: when a step fails the store stays schema 1 with no half-added column."""
    file = make_schema_1(tmp_path / "buf", "CREATE TABLE dead_letters_raw (x);")  # the index name is taken: the last step fails
    with pytest.raises(BufferCorruptError):
        SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    assert "pii" not in columns(file, "dead_letters") and columns(file, "replayed") == []
    assert query(file, "SELECT value FROM meta WHERE key='schema_version'") == [("1",)]


def test_a_process_of_the_previous_version_can_still_append(tmp_path: Path) -> None:
    """The upgrade leaves the events table as schema 1 had it, so an older process still running keeps appending (its INSERT has 8 values)."""
    file = make_schema_1(tmp_path / "buf")
    SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024).close()
    db = sqlite3.connect(file)
    db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (1, 1.0, "login.completed", "success", None, None, len(BODY), BODY))
    db.commit()
    db.close()
    [row] = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024).scan(0, 10)
    assert (row.seq, row.pii) == (1, None)


def test_convert_rewrites_only_raw_letters_and_keeps_the_byte_count(tmp_path: Path) -> None:
    """convert_dead_letters rewrites raw letters of known sinks once (body, reason, tag, dlq bytes); a second call converts nothing."""
    make_schema_1(tmp_path / "buf")
    buffer = SqliteBuffer(tmp_path / "buf", max_bytes=10 * 1024 * 1024)
    calls: list[bytes] = []

    def drop_email(body: bytes, reason: str) -> tuple[bytes, str, str]:
        calls.append(body)
        event = decode_event(body)
        return encode_event(msgspec.structs.replace(event, email=None)), reason.replace("ana@example.com", "[withheld]"), TAG

    assert buffer.convert_dead_letters({"a": drop_email, "b": drop_email}) == {"a": 1}
    assert buffer.convert_dead_letters({"a": drop_email}) == {}
    assert len(calls) == 1
    [letter] = buffer.dead_letters("a")
    assert (letter.pii, letter.event.email, letter.event.ip, letter.reason) == (TAG, None, "203.0.113.7", "refused [withheld]")
    stats = buffer.stats()
    assert stats["bytes"] == len(encode_event(letter.event)) and buffer.raw_dead_letters() == {}
