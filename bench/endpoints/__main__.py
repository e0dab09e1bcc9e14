"""Serve one counting endpoint in the foreground, for trying a peer or a client by hand.

    python -m bench.endpoints elasticsearch [--port 9200] [--every 2]

Prints its URL, then the count every ``--every`` seconds while it changes; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .cloud_logging import CloudLoggingApp
from .datadog import DatadogApp
from .elasticsearch import ElasticsearchApp
from .http_core import serve
from .s3 import S3App

APPS = {"elasticsearch": ElasticsearchApp, "s3": S3App, "datadog": DatadogApp, "cloud_logging": CloudLoggingApp}


async def _serve(app: ElasticsearchApp | S3App | DatadogApp | CloudLoggingApp, port: int, every: float) -> None:
    server = await serve(app.handle, port=port)
    host, bound = server.sockets[0].getsockname()[:2]
    print(f"http://{host}:{bound}", flush=True)
    last = None
    while True:
        await asyncio.sleep(every)
        counted = app.counted()
        if counted != last:
            print(counted.line(), flush=True)
            last = counted


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("kind", choices=sorted(APPS))
    cli.add_argument("--port", type=int, default=0)
    cli.add_argument("--every", type=float, default=2.0, help="seconds between counts")
    cli.add_argument("--bucket", action="append", default=[], help="s3: a bucket that exists from the start")
    args = cli.parse_args()
    app = S3App(tuple(args.bucket)) if args.kind == "s3" else APPS[args.kind]()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, args.port, args.every))


main()
