"""The real sidecar app served on loopback port 0 from a thread, over a real (or stand-in) shipper."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from shippers.sidecar.app import ShipperLike, make_app
from shippers.testing.fake_server import FakeServer


class SidecarServer(FakeServer):
    """The sidecar app over ``shipper``; ``tokens`` empty means no token is required. ``app`` is the one served."""

    def __init__(self, shipper: ShipperLike, tokens: Sequence[str] = ()) -> None:
        super().__init__()
        self.shipper = shipper
        self.tokens = list(tokens)
        self.app: web.Application | None = None

    def make_app(self) -> web.Application:
        self.app = make_app(self.shipper, self.tokens)
        return self.app
