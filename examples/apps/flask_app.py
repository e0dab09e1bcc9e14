"""A minimal Flask app whose auth moments become catalog events: Flask-Login's signals + the helpers.

    pip install 'authlog-shipper[flask]'
    flask --app examples/apps/flask_app.py:create_app run      # or: python examples/apps/flask_app.py 5000

The one line is ``AuthLog(app)``; it reads ``app.config["AUTHLOG"]`` (here the TOML named by
AUTHLOG_CONFIG, else authlog.toml beside this file) and ``app.config["AUTHLOG_INTEGRATION"]``.
One demo user: ana@example.com / "correct horse battery staple".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_login import LoginManager, UserMixin, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from shippers.contrib.flask import AuthLog

HERE = Path(__file__).parent


class User(UserMixin):
    def __init__(self, user_id: str, email: str, password: str) -> None:
        self.id, self.email, self.password_hash = user_id, email, generate_password_hash(password)


USERS = {"ana@example.com": User("u-1", "ana@example.com", "correct horse battery staple")}


def find_user(email: str) -> User | None:
    """The app's user store (a dict here): what Flask-Login loads, and what a failed login is looked up in."""
    return USERS.get(email.strip().lower())


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "example-only-secret"),
        AUTHLOG={"config": os.environ.get("AUTHLOG_CONFIG", str(HERE / "authlog.toml"))},
        AUTHLOG_INTEGRATION={"events": {"logout": "session.logout"}},
    )
    app.config.update(config or {})
    LoginManager(app).user_loader(lambda user_id: next((u for u in USERS.values() if u.id == user_id), None))
    authlog = AuthLog(app, user_lookup=find_user)

    @app.post("/login")
    def login() -> tuple[str, int]:
        email, password = request.form.get("email", ""), request.form.get("password", "")
        user = find_user(email)
        if user is None or not check_password_hash(user.password_hash, password):
            authlog.login_failed(email=email)  # Flask-Login has no signal for a failed login
            return "invalid credentials", 401
        login_user(user)  # Flask-Login's user_logged_in -> login.completed
        return "welcome", 200

    @app.post("/logout")
    def logout() -> tuple[str, int]:
        logout_user()  # user_logged_out -> session.logout (mapped above)
        return "bye", 200

    @app.post("/password-reset")
    def password_reset() -> tuple[str, int]:
        user = find_user(request.form.get("email", ""))
        if user is not None:  # ... email the reset link, then:
            authlog.password_reset_requested(user_id=user.id, email=user.email)
        return "if the address is known, an email is on its way", 200

    @app.post("/password-reset/complete")
    def password_reset_complete() -> tuple[str, int]:
        user = find_user(request.form.get("email", ""))  # a real app checks the emailed token instead
        if user is None:
            return "invalid link", 400
        user.password_hash = generate_password_hash(request.form["password"])
        authlog.password_reset_completed(user_id=user.id, email=user.email)
        return "password changed", 200

    return app


if __name__ == "__main__":
    import sys

    create_app().run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
