"""FastAPI / Starlette: a lifespan that configures and closes the shipper, and request-bound helpers.

::

    authlog = AuthLog({"config": "/etc/authlog.toml"}, {"events": {"logout": "session.logout"}},
                      user_lookup=find_user)                  # AUTHLOG, AUTHLOG_INTEGRATION
    app = FastAPI(lifespan=authlog.lifespan)                  # Starlette(routes=..., lifespan=authlog.lifespan)

    @app.post("/login")
    def login(form: LoginForm, auth_events: AuthEvents = Depends(authlog.events)):
        ...
        auth_events.login_completed(user_id=user.id, email=user.email)   # or .login_failed(email=form.email)

In Starlette, ``authlog.events(request)`` gives the same helpers. They fill ip
(``request.client.host``), user agent, trace id (``traceparent``) and tenant from the request.
An app with a lifespan of its own enters ours inside it: ``async with authlog.lifespan(app): yield``.

The helpers are blocking (at most the budget in sidecar mode, a store commit in embedded mode):
call them from ``def`` endpoints (FastAPI runs those in its threadpool), or from ``async def`` ones
through ``await run_in_threadpool(auth_events.login_completed, user_id=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from shippers.contrib.helpers import AuthEvents
from shippers.contrib.integration import Integration, Plumbing
from shippers.contrib.lookup import user_lookup as wrap_lookup

__all__ = ["AuthEvents", "AuthLog"]


class AuthLog:
    """The integration for one ASGI app; see the module docstring."""

    def __init__(self, authlog: Mapping[str, Any] | None = None, integration: Mapping[str, Any] | None = None, *,
                 base_dir: str | Path | None = None, user_lookup: Callable[[str], Any] | None = None,
                 registry: CollectorRegistry | None = None, plumbing: Plumbing | None = None) -> None:
        self.integration = Integration.from_settings(authlog, integration, base_dir=Path(base_dir or Path.cwd()),
                                                     registry=registry, plumbing=plumbing)
        self._lookup = wrap_lookup(user_lookup)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Build the runtime in the serving process (after uvicorn's/gunicorn's fork), close it at shutdown."""
        await run_in_threadpool(self.integration.start)
        try:
            yield
        finally:
            await run_in_threadpool(self.integration.close)

    def events(self, request: Request) -> AuthEvents:
        """The helpers bound to ``request`` (a FastAPI dependency as it stands: ``Depends(authlog.events)``)."""
        client = request.client
        facts = self.integration.facts(request, ip=client.host if client else None, user_agent=request.headers.get("user-agent"),
                                       traceparent=request.headers.get("traceparent"))
        return AuthEvents(self.integration, facts, self._lookup)
