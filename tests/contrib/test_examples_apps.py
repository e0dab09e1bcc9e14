"""examples/apps: each example app starts as its own server process and ships a login and a failed login."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from contrib_support import PASSWORD

from shippers.testing.ports import free_port
from shippers.testing.waiting import wait_for

ROOT = Path(__file__).parents[2]
APPS = ROOT / "examples" / "apps"
GOOD = "correct horse battery staple"


# Why: below Linux's ephemeral range (32768-60999): a port picked there is not handed out meanwhile to
# another test's `bind(port 0)`, which made an app answer for another server (a 404 seen under load).
PORT_RANGE = (20000, 32000)




def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Served:
    """One example app running as a child process, its events going to a file sink in a temporary folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path
        self.port = free_port()
        self.out = tmp_path / "out" / "events.ndjson"
        config = tmp_path / "authlog.toml"
        config.write_text(f'[buffer]\npath = "{tmp_path / "buffer"}"\n[catalog]\nextra = "{APPS / "events.toml"}"\n'
                          f'[sinks.local]\ntype = "file"\npath = "{self.out}"\nbatch = {{ timeout = "10ms" }}\n')
        inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # the test project's, not the example's
        self.env = {**inherited, "AUTHLOG_CONFIG": str(config), "DJANGO_DB": str(tmp_path / "db.sqlite3"),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.process: subprocess.Popen[bytes] | None = None
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def run(self, *args: str, cwd: Path = APPS) -> None:
        subprocess.run([sys.executable, *args], cwd=cwd, env=self.env, check=True, capture_output=True, timeout=120)

    def start(self, *args: str, cwd: Path = APPS) -> Served:
        self.process = subprocess.Popen([sys.executable, *args], cwd=cwd, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: answers(self.port) or self.process.poll() is not None, "the example app to listen")  # type: ignore[union-attr]
        assert self.process.poll() is None, self.process.stderr.read().decode()  # type: ignore[union-attr]
        return self

    def post(self, path: str, **fields: str) -> int:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         headers={"User-Agent": "example-test/1", "Referer": f"http://127.0.0.1:{self.port}/"})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def get(self, path: str) -> str:
        with self.opener.open(f"http://127.0.0.1:{self.port}{path}", timeout=30) as response:
            return response.read().decode()

    def events(self, count: int) -> list[dict[str, object]]:
        """The first ``count`` events the app's file sink wrote (waits for them: delivery is in the background)."""
        wait_for(lambda: self.out.exists() and len(self.out.read_text().splitlines()) >= count, f"{count} events in the sink")
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    yield server
    server.stop()


def test_the_flask_example_runs(served: Served) -> None:
    """`python examples/apps/flask_app.py PORT` serves; a login and a failed login reach its sink."""
    served.start("flask_app.py", str(served.port))
    assert served.post("/login", email="ana@example.com", password=PASSWORD) == 401
    assert served.post("/login", email="ana@example.com", password=GOOD) == 200
    assert [(e["type"], e.get("userId")) for e in served.events(2)] == [("login.invalid_password", "u-1"), ("login.completed", "u-1")]
    assert PASSWORD not in served.out.read_text()


def test_the_fastapi_example_runs(served: Served) -> None:
    """`python examples/apps/fastapi_app.py PORT` (uvicorn) serves; an unknown email and a logout reach its sink."""
    served.start("fastapi_app.py", str(served.port))
    assert served.post("/login", email="nobody@example.com", password=PASSWORD) == 401
    assert served.post("/logout", user_id="u-1") == 200
    assert [e["type"] for e in served.events(2)] == ["login.invalid_email", "session.logout"]


def test_the_django_example_runs(served: Served) -> None:
    """`manage.py check` passes and `manage.py runserver` serves; a failed and a good login reach its sink."""
    project = APPS / "django_app"
    served.run("manage.py", "check", cwd=project)
    served.run("manage.py", "migrate", "--verbosity", "0", cwd=project)
    served.run("manage.py", "shell", "-c",
               f"from django.contrib.auth.models import User; User.objects.create_user('ana', 'ana@example.com', {GOOD!r})",
               cwd=project)
    served.start("manage.py", "runserver", "--noreload", f"127.0.0.1:{served.port}", cwd=project)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', served.get("/accounts/login/")).group(1)  # type: ignore[union-attr]
    assert served.post("/accounts/login/", username="ana", password=PASSWORD, csrfmiddlewaretoken=token) == 200
    assert served.post("/accounts/login/", username="ana", password=GOOD, csrfmiddlewaretoken=token) == 200  # redirected home
    assert [(e["type"], e.get("email")) for e in served.events(2)] == [
        ("login.invalid_password", "ana@example.com"), ("login.completed", "ana@example.com")]


def test_the_examples_default_config_is_valid() -> None:
    """examples/apps/authlog.toml (what the apps use without AUTHLOG_CONFIG) loads, with the logout type they map."""
    from shippers.contrib.integration import Integration

    integration = Integration.from_settings({"config": str(APPS / "authlog.toml")}, {"events": {"logout": "session.logout"}},
                                            base_dir=APPS)
    assert integration.problems == [] and integration.event_map.type_for("logout") == "session.logout"
    integration.close()
