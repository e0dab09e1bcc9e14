"""shippers.testing.ports: a port for a test's own server, outside the range the kernel hands out by itself."""

from __future__ import annotations

import socket

from shippers.testing.ports import PORT_RANGE, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    """The port is inside PORT_RANGE (never a kernel pick) and a server can bind it."""
    port = free_port()
    assert PORT_RANGE[0] <= port < PORT_RANGE[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_a_port_in_use_is_never_handed_out() -> None:
    """While a socket listens on a port, free_port() skips it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        taken = held.getsockname()[1]
        assert all(free_port() != taken for _ in range(200))
