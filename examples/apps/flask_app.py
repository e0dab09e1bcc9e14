"""Flask: emit authentication events in-process (the buffer lives next to the app).

    pip install flask authlog-shipper
    AUTHLOG_CONFIG=examples/authlog.toml flask --app examples/apps/flask_app.py run

Each gunicorn worker may call ``shippers.configure``: all append to one store, one delivers.
"""

from __future__ import annotations

import os

from flask import Flask, request

import shippers

app = Flask(__name__)
shippers.configure(os.environ.get("AUTHLOG_CONFIG", "authlog.toml"))


def auth_context() -> dict[str, str | None]:
    """The request facts every auth event carries."""
    return {"ip": request.remote_addr, "userAgent": request.headers.get("User-Agent")}


@app.post("/login")
def login() -> tuple[str, int]:
    form = request.form
    user_id = check_password(form.get("email", ""), form.get("password", ""))
    if user_id is None:
        shippers.emit("login.invalid_password", email=form.get("email"), **auth_context())
        return "invalid credentials", 401
    shippers.emit("login.completed", userId=user_id, email=form.get("email"), **auth_context())
    return "welcome", 200


def check_password(email: str, password: str) -> str | None:  # stand-in for your user store
    return "u-1" if password == "correct horse battery staple" else None
