"""A loopback port for a server a test starts itself (a child process that binds it a moment later).

``bind(("127.0.0.1", 0))`` hands out a port from the kernel's ephemeral range, and once the socket
is closed the same number goes to the next ``bind(port 0)`` or outgoing connection of any other
test: a second server may take it before the child binds it, and the test then talks to the wrong
server (seen under load: a 404 from someone else's app). Ports below that range are never handed
out by the kernel on its own, so one that is free now stays free unless someone asks for it by number.
"""

from __future__ import annotations

import random
import socket

# Why: below Linux's default ephemeral range (net.ipv4.ip_local_port_range: 32768-60999) and above
# the ports services usually claim.
PORT_RANGE = (20000, 32000)


def free_port(host: str = "127.0.0.1", rng: random.Random | None = None) -> int:
    """A port nobody listens on at ``host`` now, outside the range the kernel picks ports from."""
    rng = rng or random.Random()
    while True:
        port = rng.randrange(*PORT_RANGE)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue  # taken: try another
            return port
