"""A minimal FastAPI app whose auth moments become catalog events: the lifespan + the request-bound helpers.

    pip install 'authlog-shipper[fastapi]'
    uvicorn --factory --app-dir examples/apps fastapi_app:create_app      # or: python examples/apps/fastapi_app.py 8000

The one line is ``FastAPI(lifespan=authlog.lifespan)``; ``Depends(authlog.events)`` gives each
endpoint helpers that fill ip, user agent and trace id from the request. AUTHLOG is the TOML named
by AUTHLOG_CONFIG (else authlog.toml beside this file). Endpoints are plain ``def``: the helpers
block (a store commit, or at most the budget in sidecar mode), and FastAPI runs these in its threadpool.
One demo user: ana@example.com / "correct horse battery staple".
"""

import hmac
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException

from shippers.contrib.failed_login import KnownUser
from shippers.contrib.fastapi import AuthEvents, AuthLog

HERE = Path(__file__).parent
USERS = {"ana@example.com": {"id": "u-1", "password": "correct horse battery staple"}}


def find_user(email: str) -> dict[str, Any] | None:
    """The app's user store (a dict here), also what a failed login is looked up in."""
    return USERS.get(email.strip().lower())


def known_user(email: str) -> KnownUser | None:
    """The failed-login lookup: whose email this is, if anyone's."""
    user = find_user(email)
    return None if user is None else KnownUser(user["id"], email.strip().lower())


def create_app(authlog_settings: dict[str, Any] | None = None, integration: dict[str, Any] | None = None) -> FastAPI:
    authlog = AuthLog(authlog_settings or {"config": os.environ.get("AUTHLOG_CONFIG", str(HERE / "authlog.toml"))},
                      integration or {"events": {"logout": "session.logout"}}, user_lookup=known_user)
    app = FastAPI(lifespan=authlog.lifespan)
    # The annotations are read by FastAPI at run time: this module has no `from __future__ import annotations`.
    Events = Annotated[AuthEvents, Depends(authlog.events)]
    Field = Annotated[str, Form()]

    @app.post("/login")
    def login(email: Field, password: Field, auth_events: Events) -> dict[str, str]:
        user = find_user(email)
        if user is None or not hmac.compare_digest(user["password"], password):
            auth_events.login_failed(email=email)
            raise HTTPException(401, "invalid credentials")
        auth_events.login_completed(user_id=user["id"], email=email)
        return {"status": "welcome"}

    @app.post("/logout")
    def logout(user_id: Field, auth_events: Events) -> dict[str, str]:
        auth_events.logout(user_id=user_id)  # shipped as session.logout (mapped above)
        return {"status": "bye"}

    @app.post("/password-reset")
    def password_reset(email: Field, auth_events: Events) -> dict[str, str]:
        user = find_user(email)
        if user is not None:  # ... email the reset link, then:
            auth_events.password_reset_requested(user_id=user["id"], email=email)
        return {"status": "if the address is known, an email is on its way"}

    @app.post("/password-reset/complete")
    def password_reset_complete(email: Field, password: Field, auth_events: Events) -> dict[str, str]:
        user = find_user(email)  # a real app checks the emailed token instead
        if user is None:
            raise HTTPException(400, "invalid link")
        user["password"] = password
        auth_events.password_reset_completed(user_id=user["id"], email=email)
        return {"status": "password changed"}

    return app


if __name__ == "__main__":
    import sys

    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
