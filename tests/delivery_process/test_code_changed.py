"""A child started after the installed code changed refuses to run under its parent, and the parent stops restarting it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from shippers import code_identity
from shippers.code_identity import CODE_CHANGED_EXIT, code_digest, mismatch, parent_identity
from shippers.shipper import Shipper

# The identity of a parent that runs other code (injected: nothing is reinstalled).
OTHER_PARENT = "00000000deadbeef:0.0.1"
# Why: a bound on waiting for a child's start and refusal (never an assertion on time).
WAIT_SECONDS = 30.0


def test_a_child_given_another_identity_exits_with_its_code_and_says_why() -> None:
    """The child entry, handed a parent identity that is not the installed code's, exits CODE_CHANGED_EXIT with one clear line and answer."""
    parent_end, child_end = socket.socketpair()
    with parent_end:
        proc = subprocess.run(
            [sys.executable, "-m", "shippers.child_entry", OTHER_PARENT, "shippers.delivery_process.child",
             str(child_end.fileno()), str(os.getpid())],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT_SECONDS,
        )
        child_end.close()
        answer = Connection(parent_end.detach()).recv()
    assert proc.returncode == CODE_CHANGED_EXIT
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "authlog-shipper was upgraded while running: parent 0.0.1 (code 00000000deadbeef), child " in lines[0]
    assert "restart `authlog run`" in lines[0]
    assert answer[0] == "code_changed" and answer[1] in lines[0]


def test_the_same_code_is_not_refused_and_a_rewritten_file_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's own identity passes the check; a package file rewritten in place (an upgrade) changes the digest."""
    assert mismatch(parent_identity()) is None
    package = tmp_path / "fakepkg"
    package.mkdir()
    module = package / "__init__.py"
    module.write_text("A = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(code_identity, "PACKAGES", ("fakepkg",))
    before = code_digest()
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"compiled")  # what a child writes is not the code
    assert code_digest() == before
    module.write_text("A = 22\n")
    assert code_digest() != before
    assert mismatch(f"{before}:0.1.0") is not None


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Callable[..., Shipper]]:
    """Shippers over tmp_path/buffer with one delivery process (closed afterwards)."""
    made: list[Shipper] = []

    def make(sinks: dict[str, Any]) -> Shipper:
        shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "buffer")}, "delivery": {"processes": 1}, "sinks": sinks})
        made.append(shipper)
        return shipper.start()

    yield make
    for shipper in made:
        shipper.close(timeout=10)


def test_the_supervisor_does_not_restart_a_child_that_refused_and_says_why(
    build: Callable[..., Shipper], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the refusal the supervisor ends (no restart loop), /readyz and status carry the reason, and events wait in the store."""
    starts: list[str] = []

    def counted() -> str:
        starts.append("start")
        return OTHER_PARENT

    monkeypatch.setattr("shippers.child_process.parent_identity", counted)
    sinks = {name: {"type": "file", "path": str(tmp_path / f"{name}.ndjson")} for name in ("a", "b")}
    shipper = build(sinks)
    process = shipper.delivery_processes[0]
    assert process.ended(WAIT_SECONDS)  # the supervisor gave up for good: it would otherwise loop with a backoff
    assert starts == ["start"]
    why = shipper.not_ready()
    assert why is not None and "a, b" in why and "upgraded while running" in why and "restart `authlog run`" in why
    status = shipper.status()
    assert "upgraded while running" in status["sinks"]["a"]["lastError"]
    assert any("upgraded while running" in line for line in status.get("errors", []))
    accepted = shipper.ingest_raw([b'{"id":"e%d","type":"login.completed","userId":"u"}' % i for i in range(5)]).accepted
    assert accepted == 5 and shipper.status()["sinks"]["a"]["lagEvents"] == 5  # kept for the restart, nothing lost
    assert not (tmp_path / "a.ndjson").exists()


def test_matching_identities_start_and_deliver_as_before(build: Callable[..., Shipper], tmp_path: Path) -> None:
    """With the parent's own identity the child starts through the entry, is ready and delivers."""
    shipper = build({"a": {"type": "file", "path": str(tmp_path / "a.ndjson")}})
    assert shipper.not_ready() is None
    shipper.ingest_raw([b'{"id":"e1","type":"login.completed","userId":"u"}'])
    assert shipper.flush(WAIT_SECONDS)
    assert (tmp_path / "a.ndjson").read_text().count("\n") == 1


def test_child_entry_refuses_a_module_that_is_not_a_child() -> None:
    """The entry imports only the package's own children: another module name on its command line exits with an error naming it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "shippers.child_entry", "x:0", "os", "3", "1"],
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert "not 'os'" in done.stderr
