"""A ``[server] listen`` address: split into host and port, and the URL a process on the same host reaches it at.

Standard library only: the sidecar binds with it, and the probes (``authlog health``) find the sidecar with it.
"""

from __future__ import annotations

# Why: a wildcard listen address is reachable locally through its loopback twin.
WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8787"`` / ``"[::1]:8787"`` -> (host, port); the config loader checked the shape."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def local_url(listen: str, tls: bool) -> str:
    """The URL a process on the same host reaches ``listen`` at (a wildcard address through loopback)."""
    host, port = split_listen(listen)
    host = WILDCARD_TO_LOOPBACK.get(host, host)
    return f"{'https' if tls else 'http'}://{f'[{host}]' if ':' in host else host}:{port}"
