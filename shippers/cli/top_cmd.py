"""``authlog top``: a live view of the running sidecar, refreshed every second, ``q`` quits.

Each refresh asks ``/v1/status`` (the same document as ``authlog status``) and draws it with
:mod:`shippers.cli.top_view`: per sink its state, events/s in and out, backlog and the age of its
oldest pending event, retries, DLQ size and last error, fitted to the terminal (80 columns too).
A sidecar that stops answering leaves the last screen up, marked stale, and is asked again at the
next refresh; a refused token is exit 2. Keys are read from the terminal in cbreak mode (restored on
exit); without a terminal (a pipe) ``--once`` prints one screen and exits.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.live import Live

from shippers import units
from shippers.cli.common import EXIT_CONFIG, config_option, console, fail
from shippers.cli.run_cmds import (
    PROBE_TIMEOUT_SECONDS,
    optional_config,
    sidecar_token,
    sidecar_url,
    token_option,
    url_option,
)
from shippers.cli.top_view import RateMeter, frame
from shippers.client import NO_RETRY, Client, ClientError, RequestRejected

QUIT_KEYS = frozenset("qQ")
# Why: one refresh a second is top's convention; faster costs the sidecar a status (a store read) each time.
DEFAULT_INTERVAL = "1s"
# Why: below this the screen flickers and the sidecar answers status more often than it is worth.
MIN_INTERVAL_SECONDS = 0.05


@click.command()
@config_option
@url_option
@token_option
@click.option("--interval", default=DEFAULT_INTERVAL, show_default=True, help="Time between refreshes, e.g. 1s, 500ms.")
@click.option("--once", is_flag=True, help="Print one screen and exit (no terminal needed).")
def top(config_path: Path, url: str | None, token: str | None, interval: str, once: bool) -> None:
    """A live view of the running sidecar: per sink state, events/s, backlog and its age, retries, DLQ. q quits."""
    try:
        seconds = max(MIN_INTERVAL_SECONDS, units.parse_duration(interval))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--interval") from None
    config = optional_config(config_path)
    target = sidecar_url(config, url)
    client = Client(target, sidecar_token(config, token), retry=NO_RETRY, timeout=min(PROBE_TIMEOUT_SECONDS, max(seconds, 1.0)))
    screen = TopScreen(client.status, f"sidecar {target}", seconds)
    with client:
        if once or not sys.stdin.isatty():
            if not once:
                fail("authlog top needs a terminal; use --once to print one screen", EXIT_CONFIG)
            console.print(screen.refresh())
            return
        with Live(screen.refresh(), console=console, screen=True, auto_refresh=False) as live, keys() as next_keys:
            while True:
                if QUIT_KEYS & set(next_keys(seconds)):
                    return
                live.update(screen.refresh(), refresh=True)


class TopScreen:
    """Fetches a status and builds the next screen; the clocks are injected for tests."""

    def __init__(self, fetch: Callable[[], dict[str, Any]], source: str, interval: float, *,
                 monotonic: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.fetch = fetch
        self.source = source
        self.interval = interval
        self.monotonic = monotonic
        self.wall = wall
        self.meter = RateMeter()
        self.last: dict[str, Any] | None = None
        self.rates: dict[str, tuple[float | None, float | None]] = {}

    def refresh(self) -> Any:
        problem = None
        try:
            document = self.fetch()
        except RequestRejected as exc:
            fail(f"the sidecar refused: {exc.message}", EXIT_CONFIG)
        except ClientError as exc:
            problem = exc.message
        else:
            self.rates = self.meter.update(document, self.monotonic())
            self.last = document
        return frame(self.last, self.rates, self.source, width_of=console, problem=problem, interval=self.interval,
                     wall=self.wall())


@contextmanager
def keys() -> Iterator[Callable[[float], str]]:
    """``next_keys(timeout)``: the keys pressed within ``timeout`` seconds ("" if none); the terminal in cbreak mode meanwhile."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def next_keys(timeout: float) -> str:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return ""
        return os.read(fd, 64).decode("utf-8", "replace")  # Why 64: a burst of keys (or an escape sequence) at once

    try:
        yield next_keys
    except KeyboardInterrupt:  # Ctrl-C quits like q
        return
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
