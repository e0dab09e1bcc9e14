"""A delivery process's report thread: an error it does not expect ends the child (to be restarted), never the thread alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shippers.delivery_process import child


def test_a_report_that_fails_unexpectedly_ends_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error no report expects (an adapter's warnings() raising, a value that cannot be pickled) ends the delivery
    process with its own exit status, to be started again, instead of ending only its report thread (status frozen)."""
    exits: list[int] = []

    class Ended(BaseException):  # not an Exception: the loop under test must not catch it
        pass

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise Ended

    def failing_report() -> None:
        raise TypeError("cannot pickle '_thread.lock' object")

    monkeypatch.setattr(child.os, "_exit", fake_exit)
    stub = SimpleNamespace(report=failing_report, _check_locks=lambda: None)
    with pytest.raises(Ended):
        child.ChildDelivery._report_loop(stub)  # type: ignore[arg-type]
    assert exits == [child.REPORT_FAILED_EXIT]
