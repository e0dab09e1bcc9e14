"""shippers.testing.ports: a port for a test's own server, outside the range the kernel hands out by itself."""

from __future__ import annotations

import random
import socket

from shippers.testing.ports import PORT_RANGE, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    """The port is inside PORT_RANGE (never a kernel pick) and a server can bind it."""
    port = free_port()
    assert PORT_RANGE[0] <= port < PORT_RANGE[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()


class _Picks(random.Random):
    """Draws the given ports in order."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self.ports = ports

    def randrange(self, *_: object) -> int:  # type: ignore[override]
        return self.ports.pop(0)


def test_a_port_in_use_is_never_handed_out() -> None:
    """When the first pick is a port a socket listens on, free_port() skips it and hands out the next pick."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        taken = held.getsockname()[1]
        other = free_port()
        assert free_port(rng=_Picks([taken, other])) == other
