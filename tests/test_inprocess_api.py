"""The in-process face: configure() + emit(), the logging handler, and several app processes on one store."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

import shippers
from shippers.errors import BufferFullError, ConfigError, ValidationError
from shippers.testing import chaos
from shippers.testing.memory import delivered_ids


@pytest.fixture
def configured(tmp_path: Path):
    shipper = shippers.configure({"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"m": {"type": "memory"}}})
    yield shipper
    shippers.shutdown(timeout=5)


def test_emit_is_durable_before_it_returns(configured: shippers.Shipper) -> None:
    """emit() returns the enriched event only after it is in the store, and it is then delivered."""
    event = shippers.emit("login.completed", userId="u-7", ip="203.0.113.7")
    assert event.outcome == "success"
    assert configured.buffer.stats()["lastSeq"] == 1
    assert configured.flush(10)
    assert delivered_ids("m") == [event.id]


def test_emit_raises_validation_error(configured: shippers.Shipper) -> None:
    """A bad event raises ValidationError naming the field, and is counted as rejected."""
    with pytest.raises(ValidationError, match="did you mean 'login.completed'"):
        shippers.emit("login.complete")
    assert b'authlog_events_rejected_total{reason="unknown_type"} 1.0' in configured.metrics.render()


def test_emit_raises_buffer_full_after_emit_timeout(tmp_path: Path) -> None:
    """When a blocking sink is full, emit waits emit_timeout then raises BufferFullError (the app decides)."""
    chaos.script("stuck").permanent("down")
    shipper = shippers.Shipper.from_config({
        "buffer": {"path": str(tmp_path / "buf"), "emit_timeout": "0s"},
        "sinks": {"stuck": {"type": "chaos", "max_backlog": "2KiB"}},
    }, deliver=True)
    with pytest.raises(BufferFullError):
        for i in range(100):
            shipper.emit("login.completed", userId=f"u-{i}")
    shipper.close(1)


def test_logging_handler_ships_only_auth_events(configured: shippers.Shipper) -> None:
    """Records with extra={'auth_event': ...} are shipped; other records and invalid events never raise into the app."""
    logger = logging.getLogger("myapp.auth")
    handler = shippers.AuthEventHandler()
    logger.addHandler(handler)
    errors: list[logging.LogRecord] = []
    handler.handleError = errors.append  # type: ignore[method-assign]
    try:
        logger.warning("plain record")
        logger.warning("locked", extra={"auth_event": {"type": "user.locked", "reason": "limit_passed", "userId": "u-1"}})
        logger.warning("bad", extra={"auth_event": {"type": "nope"}})
    finally:
        logger.removeHandler(handler)
    assert configured.flush(10)
    assert len(delivered_ids("m")) == 1
    assert len(errors) == 1 and errors[0].getMessage() == "bad"


def test_app_workers_share_one_store_and_one_deliverer(tmp_path: Path) -> None:
    """Three app processes emit into one store while this process delivers: every event arrives once."""
    config = {"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"m": {"type": "memory"}}}
    shipper = shippers.Shipper.from_config(config).start()
    script = (
        "import sys, shippers; from shippers.testing import register_test_adapters; register_test_adapters();"
        "shippers.configure({'buffer': {'path': sys.argv[1]}, 'sinks': {'m': {'type': 'memory'}}});"
        "[shippers.emit('login.completed', id=f'{sys.argv[2]}-{i}') for i in range(40)]; shippers.shutdown(1)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "buf"), f"w{n}"]) for n in range(3)]
    assert all(p.wait(60) == 0 for p in procs)
    assert shipper.flush(20)
    assert sorted(delivered_ids("m")) == sorted(f"w{n}-{i}" for n in range(3) for i in range(40))
    shipper.close(5)


@pytest.mark.parametrize("name", ["BufferFullError", "BufferUnavailableError", "ValidationError"])
def test_every_error_emit_raises_is_exported(name: str) -> None:
    """Each error emit() can raise is importable from the package itself and listed in __all__."""
    from shippers import errors

    assert getattr(shippers, name) is getattr(errors, name)
    assert name in shippers.__all__


def test_a_failed_reconfigure_leaves_the_running_shipper_delivering(configured: shippers.Shipper, tmp_path: Path) -> None:
    """configure() with a bad config raises and keeps the running shipper (it is not closed under an app that goes on emitting)."""
    with pytest.raises(ConfigError):
        shippers.configure({"buffer": {"path": str(tmp_path / "buf")}, "sinks": {"m": {"type": "no-such-type"}}})
    assert shippers.get_shipper() is configured and configured.delivering
    event = shippers.emit("login.completed", userId="u-8")
    assert configured.flush(10)
    assert delivered_ids("m") == [event.id]
