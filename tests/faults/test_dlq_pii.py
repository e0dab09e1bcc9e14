"""Dead letters hold only what their sink may see: every view, replay and the migration of old letters obey the sink's PII policy."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from shippers.cli.main import cli
from shippers.client import Client
from shippers.event import encode_event
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.events import full_event
from shippers.testing.ports import free_port
from shippers.testing.sidecar_server import SidecarServer

EMAIL = "ana@example.com"
IP = "203.0.113.7"
KEY = "k-secret"
EVENT_ID = "p-1"
ITEM = json.dumps({"id": EVENT_ID, "type": "login.completed", "email": EMAIL, "ip": IP, "userId": "u-7"}).encode()


def hmac_of(value: str, key: str = KEY) -> str:
    return "hmac-sha256:" + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


# (field, action, what the sink may see of the field)
POLICIES = [
    ("email", "hash", hmac_of(EMAIL)),
    ("email", "mask", "a***@example.com"),
    ("email", "drop", None),
    ("ip", "hash", hmac_of(IP)),
    ("ip", "mask", "203.0.113.0"),
    ("ip", "drop", None),
]
RAW = {"email": EMAIL, "ip": IP}




def write_config(folder: Path, pii: dict[str, str]) -> Path:
    """A TOML config: chaos sink 'c' with the given pii table, plus an unfiltered memory sink 'raw'."""
    table = ", ".join(f'{k} = "{v}"' for k, v in {**pii, "hash_key": KEY}.items())
    config = folder / "authlog.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{free_port()}"\n[buffer]\npath = "{folder / "buf"}"\n'
        f'[sinks.c]\ntype = "chaos"\npii = {{ {table} }}\n[sinks.raw]\ntype = "memory"\n'
    )
    return config


def views(config: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """The one dead letter of 'c' as each face shows it (Shipper.dead_letters, GET /v1/dlq, `authlog dlq list --json`), and its pii tag."""
    shipper = Shipper.from_config(config)
    try:
        [letter] = shipper.dead_letters("c")
        seen = {"Shipper.dead_letters": msgspec.to_builtins(letter.event)}
        with SidecarServer(shipper) as sidecar, Client(sidecar.url) as client:
            [served] = client.dead_letters("c")
        seen["/v1/dlq"] = served["event"]
        assert served["pii"] == letter.pii  # the JSON says what treatment the event carries
        tag = letter.pii
    finally:
        shipper.close(1)
    result = CliRunner().invoke(cli, ["dlq", "list", "-c", str(config), "--sink", "c", "--json"])
    assert result.exit_code == 0, result.output
    [listed] = json.loads(result.output)
    seen["authlog dlq list"] = listed["event"]
    return seen, tag


def reject_then_collect(config: Path) -> None:
    chaos.script("c").reject_ids({EVENT_ID})
    shipper = Shipper.from_config(config).start()
    try:
        assert shipper.ingest_raw([ITEM]).accepted == 1
        assert shipper.flush(10)
    finally:
        shipper.close(5)
    chaos.script("c").rejected_ids.clear()


def replay(config: Path, letters: int = 1) -> Any:
    """Replay c's DLQ with the CLI, deliver, and return the (first) event c received."""
    result = CliRunner().invoke(cli, ["dlq", "replay", "-c", str(config), "--sink", "c"])
    assert result.exit_code == 0 and f"re-queued {letters} dead letter(s)" in result.output, result.output
    shipper = Shipper.from_config(config).start()
    try:
        assert shipper.flush(10)
        assert shipper.dead_letters("c") == []
    finally:
        shipper.close(5)
    assert len(chaos.delivered["c"]) == letters
    return chaos.delivered["c"][0]


@pytest.mark.parametrize(("field", "action", "shown"), POLICIES, ids=[f"{f}-{a}" for f, a, _ in POLICIES])
def test_dead_letter_shows_only_the_sinks_view_and_replays_it_once(tmp_path: Path, field: str, action: str, shown: str | None) -> None:
    """A destination-rejected event shows in every DLQ view as the sink's policy leaves it, and replay applies the policy exactly once."""
    config = write_config(tmp_path, {field: action})
    reject_then_collect(config)
    seen, tag = views(config)
    assert f"{field}={action}" in tag
    for face, event in seen.items():
        assert event.get(field) == shown, face
        assert RAW[field] not in json.dumps(event), f"{face} shows the raw {field}"
        other = "ip" if field == "email" else "email"
        assert event[other] == RAW[other], f"{face}: a field the policy keeps is kept"
    store = sqlite3.connect(tmp_path / "buf" / "buffer.sqlite3")
    [(body,)] = store.execute("SELECT body FROM dead_letters").fetchall()
    store.close()
    assert RAW[field].encode() not in body, "the store's DLQ row itself holds only the sink's view"
    delivered = replay(config)
    assert getattr(delivered, field) == shown  # a hash of the hash or a mask of the mask would differ


def test_destination_answers_quote_only_the_sinks_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A destination answer echoing the email it got (a retry, then a reject) shows the hash in the DLQ reason, status and logs, never the address."""
    from adapters.contract import ItemResult, Verdict
    from shippers.testing.chaos import ChaosAdapter

    answers = iter(["retry", "reject"])

    def echoing_send(self: Any, request: Any) -> Any:
        outcome = next(answers, "delivered")
        if outcome == "delivered":
            return Verdict.delivered()
        return Verdict.per_item([ItemResult(outcome, f"400 bad value [{e.email}]") for e in request.events])  # type: ignore[arg-type]

    monkeypatch.setattr(ChaosAdapter, "send", echoing_send)
    config = write_config(tmp_path, {"email": "hash"})
    shipper = Shipper.from_config(config, sleep=lambda _: None).start()
    try:
        shipper.ingest_raw([ITEM])
        assert shipper.flush(10)
        [letter] = shipper.dead_letters("c")
        assert hmac_of(EMAIL) in letter.reason
        assert EMAIL not in json.dumps({"reason": letter.reason, "status": shipper.status()["sinks"]["c"]})
    finally:
        shipper.close(5)


def test_a_policy_failure_quoting_the_value_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the policy itself fails on an event (its message quoting the raw IP), the DLQ gets neither the raw IP nor a reason quoting it."""
    import shippers.pii

    def failing_mask(ip: str) -> str:
        raise ValueError(f"{ip!r} does not appear to be an IPv4 or IPv6 address")

    monkeypatch.setattr(shippers.pii, "mask_ip", failing_mask)
    config = write_config(tmp_path, {"ip": "mask"})
    shipper = Shipper.from_config(config).start()
    try:
        shipper.ingest_raw([ITEM])
        assert shipper.flush(10)
        [letter] = shipper.dead_letters("c")
        assert IP not in letter.reason and IP not in json.dumps(msgspec.to_builtins(letter.event))
        assert letter.event.ip is None and letter.event.email == EMAIL  # withheld where the policy failed, kept where it keeps
    finally:
        shipper.close(5)


def test_policy_changed_between_dead_letter_and_replay(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The current policy wins without transforming twice: a masked IP is dropped under hash, a hashed email stays hashed under keep; a warning says so."""
    config = write_config(tmp_path, {"ip": "mask", "email": "hash"})
    reject_then_collect(config)
    write_config(tmp_path, {"ip": "hash", "user_agent": "keep"})  # email: keep now, ip: hash now
    with caplog.at_level(logging.WARNING):
        delivered = replay(config)
    assert delivered.ip is None  # hashing a masked address would give a hash that joins with nothing
    assert delivered.email == hmac_of(EMAIL)  # a hash cannot be undone; it is never hashed again
    warned = [r.getMessage() for r in caplog.records if "PII policy" in r.getMessage()]
    assert len(warned) == 1 and "ip" in warned[0] and "email" in warned[0], warned


# -- migration of dead letters stored by schema 1 (before dead letters were kept as the sink sees them) --

SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE stats (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL, last_cum INTEGER NOT NULL,
    gc_seq INTEGER NOT NULL, gc_cum INTEGER NOT NULL, dlq_bytes INTEGER NOT NULL, dlq_events INTEGER NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY, received REAL NOT NULL, type TEXT NOT NULL, outcome TEXT NOT NULL,
    tenant TEXT, only_sink TEXT, cum INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE sinks (name TEXT PRIMARY KEY, type TEXT NOT NULL, watermark INTEGER NOT NULL, watermark_cum INTEGER NOT NULL,
    cut_through INTEGER NOT NULL, when_full TEXT NOT NULL, max_backlog INTEGER, delivered INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0, dead_lettered INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'active', last_error TEXT, last_delivery_at REAL);
CREATE TABLE batches (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, partition TEXT NOT NULL, key TEXT,
    first_seq INTEGER NOT NULL, seqs BLOB NOT NULL, created REAL NOT NULL);
CREATE INDEX batches_by_sink ON batches (sink, first_seq);
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, seq INTEGER NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL, body BLOB NOT NULL);
CREATE INDEX dead_letters_by_sink ON dead_letters (sink, id);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO meta VALUES ('store_id', 'old0store0id');
"""


def old_store(folder: Path, letters: int, sink: str = "c") -> bytes:
    """A store as schema 1 wrote it, with `letters` raw dead letters of `sink`; returns one raw body."""
    body = encode_event(full_event("login.completed", email=EMAIL, ip=IP))
    (folder / "buf").mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "buf" / "buffer.sqlite3")
    db.executescript(SCHEMA_1)
    db.execute("INSERT INTO stats VALUES (1, ?, ?, ?, ?, ?, ?)", (letters, letters * len(body), letters, letters * len(body),
                                                                   letters * len(body), letters))
    db.executemany("INSERT INTO dead_letters (sink, seq, code, reason, at, body) VALUES (?, ?, ?, ?, ?, ?)",
                   [(sink, i + 1, "rejected_by_destination", f"400 refused {EMAIL}", 1.0, body) for i in range(letters)])
    db.commit()
    db.close()
    return body


def stored_letters(folder: Path) -> list[tuple[bytes, str]]:
    db = sqlite3.connect(folder / "buf" / "buffer.sqlite3")
    try:
        return [(bytes(b), r) for b, r in db.execute("SELECT body, reason FROM dead_letters ORDER BY id")]
    finally:
        db.close()


def test_old_dead_letters_are_converted_once_on_first_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Letters stored raw by schema 1 are rewritten to the sink's view when a deliverer first starts, logged once; a second start changes nothing."""
    old_store(tmp_path, 3)
    config = write_config(tmp_path, {"email": "hash", "ip": "mask"})
    with caplog.at_level(logging.INFO):
        Shipper.from_config(config, deliver=True).close(1)
        first = stored_letters(tmp_path)
        Shipper.from_config(config, deliver=True).close(1)
    converted = [r for r in caplog.records if "converted" in r.getMessage() and "dead letter" in r.getMessage()]
    assert len(converted) == 1 and "3" in converted[0].getMessage()
    assert stored_letters(tmp_path) == first  # idempotent: a hash is never hashed again
    for body, reason in first:
        event = json.loads(body)
        assert (event["email"], event["ip"]) == (hmac_of(EMAIL), "203.0.113.0")
        assert EMAIL not in reason and hmac_of(EMAIL) in reason
    shipper = Shipper.from_config(config)
    try:
        stats = shipper.buffer.stats()
        assert stats["deadLetters"] == 3
        size = sum(len(b) for b, _ in first)
        assert stats["bytes"] == size  # the DLQ byte count follows the rewritten bodies
    finally:
        shipper.close(1)
    assert replay(config, letters=3).email == hmac_of(EMAIL)


def test_conversion_killed_midway_resumes_without_converting_twice(tmp_path: Path) -> None:
    """kill -9 during the conversion leaves every letter either converted once or raw; the next open finishes the rest."""
    old_store(tmp_path, 5)
    config = write_config(tmp_path, {"email": "hash"})
    script = (
        "import os, sys\n"
        "import shippers.buffer.sqlite as s\n"
        "import shippers.pii as p\n"
        "s.DLQ_CHUNK = 2\n"
        "seen = []\n"
        "real = p.SinkPii.convert_letter\n"
        "def dying(self, body, reason):\n"
        "    seen.append(1)\n"
        "    if len(seen) == 4:\n"
        "        os._exit(9)\n"
        "    return real(self, body, reason)\n"
        "p.SinkPii.convert_letter = dying\n"
        "from shippers.testing import register_test_adapters\n"
        "register_test_adapters()\n"
        "from shippers.shipper import Shipper\n"
        "Shipper.from_config(sys.argv[1], deliver=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(config)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 9, run.stderr
    halfway = [json.loads(b)["email"] for b, _ in stored_letters(tmp_path)]
    assert halfway == [hmac_of(EMAIL)] * 2 + [EMAIL] * 3  # the first chunk committed, the second never did
    Shipper.from_config(config, deliver=True).close(1)
    assert [json.loads(b)["email"] for b, _ in stored_letters(tmp_path)] == [hmac_of(EMAIL)] * 5


def test_old_letters_of_an_unconfigured_sink_are_shown_without_personal_fields(tmp_path: Path) -> None:
    """A schema-1 letter of a sink no longer configured cannot be converted (its policy is unknown): every view withholds email, ip and userAgent."""
    old_store(tmp_path, 1, sink="gone")
    config = write_config(tmp_path, {"email": "hash"})
    shipper = Shipper.from_config(config)
    try:
        [letter] = shipper.dead_letters("gone")
        assert (letter.event.email, letter.event.ip, letter.event.userAgent) == (None, None, None)
        assert EMAIL not in letter.reason
    finally:
        shipper.close(1)
    result = CliRunner().invoke(cli, ["dlq", "list", "-c", str(config), "--json"])
    assert EMAIL not in result.output and IP not in result.output


def test_elasticsearch_refusal_echoing_the_email_and_replay_of_hashed_fields(tmp_path: Path, es: Any) -> None:
    """Elasticsearch's 400 quoting the field's value names only the hash; replay indexes the hashed email and IP once and passes mapping (hashed IP in authlog.ip)."""
    sink = {"type": "elasticsearch", "hosts": [es.url], "flavor": es.flavor, "data_stream": "logs-authlog-default",
            "retry": {"initial": "10ms", "max": "100ms"}, "pii": {"email": "hash", "ip": "hash", "hash_key": KEY}}
    config = {"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"search": sink}}
    es.mapping_error_for(EVENT_ID, field_name="user.email", field_type="long")
    shipper = Shipper.from_config(config, sleep=lambda _: None).start()
    try:
        shipper.ingest_raw([ITEM])
        assert shipper.flush(30)
        [letter] = shipper.dead_letters("search")
        assert f"Preview of field's value: '{hmac_of(EMAIL)}'" in letter.reason
        assert (letter.event.email, letter.event.ip) == (hmac_of(EMAIL), hmac_of(IP))
    finally:
        shipper.close(5)
    es.reset()
    shipper = Shipper.from_config(config, sleep=lambda _: None)
    try:
        assert shipper.replay_dead_letters("search") == 1
        shipper.start()
        assert shipper.flush(30)
        [doc] = es.documents("logs-authlog-default").values()
        assert doc["user"]["email"] == hmac_of(EMAIL) and doc["authlog"]["ip"] == hmac_of(IP) and "source" not in doc
        assert shipper.dead_letters("search") == []
    finally:
        shipper.close(5)


def test_an_old_dead_letter_that_no_longer_decodes_is_withheld_not_a_failed_start(tmp_path: Path) -> None:
    """A raw schema-1 letter whose body no longer decodes does not stop the start: it is tagged undecodable and every view withholds it."""
    old_store(tmp_path, 2)
    db = sqlite3.connect(tmp_path / "buf" / "buffer.sqlite3")
    db.execute("UPDATE dead_letters SET body = ? WHERE id = 1", (b'{"type": "login.completed", "email": "' + EMAIL.encode() + b'"',))
    db.commit()
    db.close()
    config = write_config(tmp_path, {"email": "hash"})
    shipper = Shipper.from_config(config, deliver=True)
    try:
        letters = shipper.dead_letters("c")
    finally:
        shipper.close(1)
    assert [letter.event is None for letter in letters] == [True, False]
    assert all(EMAIL not in letter.reason for letter in letters)
    assert letters[0].withheld and EMAIL not in letters[0].withheld
