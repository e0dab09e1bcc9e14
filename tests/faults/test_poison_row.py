"""Fault injection on the stored bytes: a row that no longer decodes (bit rot, a foreign writer, a future
format) costs that one event, never its sink.

It goes to the sink's DLQ as stored, with the code ``undecodable`` (counted), and the events beside it
are delivered; this holds for a fresh scan and for a recorded batch re-cut after a restart. An
undecodable body cannot be filtered by the sink's PII policy, so every view (``Shipper.dead_letters``,
``GET /v1/dlq``, ``authlog dlq list``) withholds it whole (its length and a hash only) and a replay
leaves it in the DLQ; none of them fails on it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from click.testing import CliRunner

from shippers.cli.main import cli
from shippers.client import Client
from shippers.shipper import Shipper
from shippers.testing import chaos
from shippers.testing.memory import delivered_ids
from shippers.testing.ports import free_port
from shippers.testing.sidecar_server import SidecarServer

EMAIL = "ana@example.com"
# A stored body cut short: not an event any more, and it still holds an email no view may show.
POISON = b'{"id":"x","type":"login.completed","email":"' + EMAIL.encode() + b'","userId":'
# Why: bounded polls and flushes; delivery into the stand-ins takes milliseconds, 15 s means it stalled.
DEADLINE_SECONDS = 15.0
POLL_SECONDS = 0.01




def write_config(folder: Path, sink_type: str = "memory") -> Path:
    config = folder / "authlog.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{free_port()}"\n[buffer]\npath = "{folder / "buf"}"\n'
        f'[sinks.archive]\ntype = "{sink_type}"\nretry = {{ initial = "5ms", max = "20ms" }}\n'
    )
    return config


def corrupt(folder: Path, seq: int) -> None:
    db = sqlite3.connect(folder / "buf" / "buffer.sqlite3")
    try:
        assert db.execute("UPDATE events SET body=? WHERE seq=?", (POISON, seq)).rowcount == 1
        db.commit()
    finally:
        db.close()


def dead_lettered(shipper: Shipper, code: str) -> float:
    value = shipper.metrics.registry.get_sample_value("authlog_sink_dead_lettered_total", {"sink": "archive", "reason": code})
    return value or 0.0


def poison_one_of_five(tmp_path: Path) -> Path:
    """A store with five events for 'archive', the third of which no longer decodes."""
    config = write_config(tmp_path)
    shipper = Shipper.from_config(config)
    for i in range(5):
        shipper.emit("login.completed", userId=f"u{i}")
    shipper.close(0)
    corrupt(tmp_path, 3)
    return config


def test_an_undecodable_row_is_dead_lettered_and_its_sink_keeps_delivering(tmp_path: Path) -> None:
    """A scanned row that does not decode lands in the DLQ as `undecodable` (counted) and the nine good events are delivered."""
    config = poison_one_of_five(tmp_path)
    shipper = Shipper.from_config(config, deliver=True)
    try:
        for i in range(5):
            shipper.emit("login.completed", userId=f"v{i}")
        assert shipper.flush(DEADLINE_SECONDS), shipper.status()["sinks"]["archive"]
        assert len(delivered_ids("archive")) == 9
        [letter] = shipper.dead_letters("archive")
        assert (letter.seq, letter.code, letter.event) == (3, "undecodable", None)
        assert dead_lettered(shipper, "undecodable") == 1
        assert shipper.status()["sinks"]["archive"]["dlqEvents"] == 1
    finally:
        shipper.close(5)


def test_an_undecodable_row_in_a_recorded_batch_is_dead_lettered_when_it_is_re_cut(tmp_path: Path) -> None:
    """A recorded batch re-cut after a restart dead-letters its undecodable row and sends the rest."""
    config = write_config(tmp_path, "chaos")
    chaos.script("archive").fail(times=1000)  # the batch is recorded, and stays so across the restart
    shipper = Shipper.from_config(config, deliver=True)
    for i in range(5):
        shipper.emit("login.completed", userId=f"u{i}")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not shipper.buffer.open_batches("archive"):
        assert time.monotonic() < deadline, "the batch was never recorded"
        time.sleep(POLL_SECONDS)
    shipper.close(0.5)
    [batch] = Shipper.from_config(config).buffer.open_batches("archive")
    assert 3 in batch.seqs
    corrupt(tmp_path, 3)
    chaos.script("archive").clear()
    shipper = Shipper.from_config(config, deliver=True)
    try:
        assert shipper.flush(DEADLINE_SECONDS), shipper.status()["sinks"]["archive"]
        assert sorted(e.userId for e in chaos.delivered["archive"]) == ["u0", "u1", "u3", "u4"]
        assert [(d.seq, d.code) for d in shipper.dead_letters("archive")] == [(3, "undecodable")]
        assert dead_lettered(shipper, "undecodable") == 1
    finally:
        shipper.close(5)


def test_every_view_withholds_an_undecodable_letter_and_replay_keeps_it(tmp_path: Path) -> None:
    """Shipper.dead_letters, GET /v1/dlq and `authlog dlq list` (JSON and table) show only its length and hash; replay leaves it."""
    config = poison_one_of_five(tmp_path)
    shipper = Shipper.from_config(config, deliver=True)
    try:
        assert shipper.flush(DEADLINE_SECONDS)
        [letter] = shipper.dead_letters("archive")
        digest = hashlib.sha256(POISON).hexdigest()[:16]
        assert letter.withheld is not None and str(len(POISON)) in letter.withheld and digest in letter.withheld
        assert EMAIL not in letter.reason + letter.withheld
        with SidecarServer(shipper) as sidecar, Client(sidecar.url) as client:
            [served] = client.dead_letters("archive")
        assert served["event"] is None and served["withheld"] == letter.withheld and served["code"] == "undecodable"
        assert EMAIL not in json.dumps(served)
    finally:
        shipper.close(5)
    runner = CliRunner()
    listed = runner.invoke(cli, ["dlq", "list", "-c", str(config), "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["event"] is None and digest in row["withheld"]
    table = runner.invoke(cli, ["dlq", "list", "-c", str(config)])
    assert table.exit_code == 0 and "1 dead letter(s)" in table.output, table.output
    assert EMAIL not in listed.output + table.output
    replayed = runner.invoke(cli, ["dlq", "replay", "-c", str(config), "--sink", "archive"])
    assert replayed.exit_code == 0 and "re-queued 0 dead letter(s)" in replayed.output, replayed.output
    shipper = Shipper.from_config(config)
    try:
        assert [(d.seq, d.code) for d in shipper.dead_letters("archive")] == [(3, "undecodable")]
    finally:
        shipper.close(0)
