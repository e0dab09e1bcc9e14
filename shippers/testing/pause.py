"""Stop an ``authlog run`` child at one step of a batch's life, so a test can kill it exactly there.

A launcher, not a core hook: the core never reads anything of this. A test starts the child as::

    python -c "from shippers.testing.pause import main; main()" run -c authlog.toml
    with AUTHLOG_TEST_PAUSE='{"type": "s3", "step": "recorded", "folder": "/tmp/x"}' in its environment

:func:`main` reads that variable once, wraps two methods of that adapter class in this process,
and runs the CLI. The first time the step is reached it writes ``<folder>/reached`` and waits
(bounded) until ``<folder>/go`` exists. Steps:

- ``cut``: inside the transaction that records a new batch (``object_key`` is called there):
  the batch is cut but not recorded; a kill rolls the transaction back.
- ``recorded``: in ``send``, before the real call: recorded, not sent.
- ``answered``: in ``send``, after the destination answered, before the worker settles it.

"Received but not answered" is the destination's side: :class:`~shippers.testing.fault_front.FaultFront`
holds the answer (``hold_next``). "Settled" needs no pause: the sink's ``delivered`` count shows it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

ENVIRONMENT_VARIABLE = "AUTHLOG_TEST_PAUSE"
STEPS = ("cut", "recorded", "answered")
REACHED = "reached"
GO = "go"
# Why: a test that never says "go" must not leave a child waiting forever.
PAUSE_CEILING_SECONDS = 60.0
# Why: how often the paused thread looks for the go file; the test waits on it, not the reverse.
POLL_SECONDS = 0.01


class _Pause:
    def __init__(self, step: str, folder: Path) -> None:
        self.step = step
        self.folder = folder
        self._fired = False
        self._lock = threading.Lock()

    def at(self, step: str, detail: str) -> None:
        """Block here the first time ``step`` is the configured one."""
        if step != self.step:
            return
        with self._lock:
            if self._fired:
                return
            self._fired = True
        (self.folder / REACHED).write_text(f"{step} {detail}\n")
        deadline = time.monotonic() + PAUSE_CEILING_SECONDS
        while not (self.folder / GO).exists() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)


def install(adapter_type: str, step: str, folder: str | Path) -> None:
    """Wrap ``object_key`` and ``send`` of the adapter class registered as ``adapter_type``."""
    from shippers.plugins import adapter_class

    if step not in STEPS:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: step {step!r} is not one of {', '.join(STEPS)}")
    cls = adapter_class(adapter_type)
    if cls is None:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: adapter {adapter_type!r} is not installed")
    pause = _Pause(step, Path(folder))
    object_key, send = cls.object_key, cls.send

    def paused_object_key(self: Any, partition: str, first_seq: int, last_seq: int) -> str | None:
        pause.at("cut", f"seqs {first_seq}-{last_seq}")
        return object_key(self, partition, first_seq, last_seq)

    def paused_send(self: Any, request: Any) -> Any:
        pause.at("recorded", f"batch {request.batch_id}")
        verdict = send(self, request)
        pause.at("answered", f"batch {request.batch_id} {verdict.kind}")
        return verdict

    cls.object_key = paused_object_key  # type: ignore[method-assign]
    cls.send = paused_send  # type: ignore[method-assign]


def main() -> None:
    """Install the pause named by AUTHLOG_TEST_PAUSE (none when it is unset), then run the CLI."""
    raw = os.environ.get(ENVIRONMENT_VARIABLE)
    if raw:
        plan = json.loads(raw)
        install(plan["type"], plan["step"], plan["folder"])
    from shippers.cli import main as cli

    cli()
