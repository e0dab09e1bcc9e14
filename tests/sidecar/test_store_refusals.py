"""When the store refuses a commit: the producer is told to come back when the store said, and the log is not flooded."""

from __future__ import annotations

import logging

import pytest
from sidecar_fakes import FakeShipper, ServedApp

from shippers.errors import BufferCorruptError, BufferUnavailableError
from shippers.sidecar.app import STATE, STORE_REFUSED_RETRY_AFTER_SECONDS

GOOD = b'{"type": "login.completed", "userId": "u-1"}'
REQUESTS = 20


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("retry_after", "header"), [(5.0, "5"), (0.2, "1"), (2.5, "3")])
def test_a_refused_commit_answers_the_stores_retry_after(served: ServedApp, fake_shipper: FakeShipper,
                                                         retry_after: float, header: str) -> None:
    """A BufferUnavailableError's retry_after (read-only, I/O error: 5 s) is the Retry-After, rounded up to whole seconds, at least 1."""
    fake_shipper.raise_next.append(BufferUnavailableError("the store is read-only: /x/buffer.db", retry_after, kind="read_only"))
    status, body, headers = served.post(GOOD)
    assert status == 503 and headers["Retry-After"] == header
    assert "read-only" in body["error"] and fake_shipper.commits == 0


def test_a_store_error_without_a_retry_after_gets_the_default(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """A store error that carries no retry_after (a corrupt store) still gets a whole-second Retry-After."""
    fake_shipper.raise_next.append(BufferCorruptError("the buffer /x cannot be read"))
    status, _, headers = served.post(GOOD)
    assert status == 503 and headers["Retry-After"] == str(STORE_REFUSED_RETRY_AFTER_SECONDS)


def test_a_read_only_store_logs_one_line_per_interval_not_one_per_request(
    served: ServedApp, fake_shipper: FakeShipper, caplog: pytest.LogCaptureFixture
) -> None:
    """20 refused requests in a row log one line; the first after the interval says how many were not logged."""
    assert served._runner is not None
    clock = _Clock()
    served._runner.app[STATE].store_refusals.clock = clock
    refusal = BufferUnavailableError("the store is read-only: /x/buffer.db", 5.0, kind="read_only")
    fake_shipper.raise_next.extend([refusal] * (REQUESTS + 1))
    with caplog.at_level(logging.DEBUG, logger="authlog.sidecar"):
        statuses = [served.post(GOOD)[0] for _ in range(REQUESTS)]
        clock.now += 61.0
        statuses.append(served.post(GOOD)[0])
    assert statuses == [503] * (REQUESTS + 1)
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage() and r.levelno >= logging.INFO]
    assert len(lines) == 2, lines
    assert "read-only" in lines[0]
    assert f"{REQUESTS - 1} more like this" in lines[1]
