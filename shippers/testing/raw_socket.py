"""Send raw bytes to a server on a fresh connection and read its answer: for requests no HTTP client will send.

The tests of malformed requests (a bad header byte, a short Content-Length, ``Expect``) need
to put exact bytes on the wire and see exactly what came back, so they bypass aiohttp's client.
"""

from __future__ import annotations

import socket

# Why: one read takes whatever the kernel holds; the answers these tests read are a few KiB.
RECV_BYTES = 65536


def exchange(host: str, port: int, raw: bytes, *, timeout: float, read_first_only: bool = False) -> bytes:
    """Send ``raw``; the answer as received until the server closes or resets (or only the first chunk)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        if read_first_only:
            return sock.recv(RECV_BYTES)
        answer = b""
        while True:
            try:
                data = sock.recv(RECV_BYTES)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            answer += data
        return answer
