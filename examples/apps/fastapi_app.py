"""FastAPI: post events to the sidecar (``authlog run``) instead of embedding the buffer.

    authlog run -c examples/authlog.toml &
    uvicorn examples.apps.fastapi_app:app

The client retries on 503 (buffer full) and connection errors, honouring Retry-After. It is
blocking, so it runs in the threadpool (a plain ``def`` endpoint) rather than on the event loop.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request

from shippers.client import Client

app = FastAPI()
sidecar = Client(os.environ.get("AUTHLOG_URL", "http://127.0.0.1:8787"), token=os.environ.get("AUTHLOG_TOKEN"))


@app.post("/magic-link/verify")
def verify_magic_link(request: Request, token: str) -> dict[str, str]:
    client = {"ip": request.client.host if request.client else None, "userAgent": request.headers.get("user-agent")}
    if token == "expired":
        sidecar.send([{"type": "magic_link.failed", "reason": "expired", **client}])
        return {"status": "expired"}
    sidecar.send([{"type": "login.completed", "userId": "u-1", **client}])
    return {"status": "ok"}
