"""Bearer tokens on the sidecar: which paths need one, constant-time matching, rotation, and the loopback rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from sidecar_fakes import FakeShipper, ServedApp, make_config

from shippers.errors import ConfigError
from shippers.sidecar.auth import is_loopback, presented_token, token_matches
from shippers.sidecar.server import prepare

GOOD = b'{"type": "login.completed"}'


def test_missing_token_is_401(served_with_token: ServedApp, fake_shipper: FakeShipper) -> None:
    """Without an Authorization header ingest is a 401 that says which header to send, and nothing is committed."""
    status, body, headers = served_with_token.post(GOOD)
    assert status == 401
    assert "Authorization: Bearer" in body["error"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert fake_shipper.commits == 0


def test_wrong_token_is_401_and_never_echoed(served_with_token: ServedApp) -> None:
    """A wrong token is a 401 whose message does not repeat the token."""
    status, body, _ = served_with_token.post(GOOD, Authorization="Bearer guess-me")
    assert status == 401
    assert "invalid bearer token" in body["error"] and "guess-me" not in body["error"]


def test_every_configured_token_works(served_with_token: ServedApp) -> None:
    """Both the old and the new token are accepted, so tokens rotate without downtime; the scheme is case-insensitive."""
    assert served_with_token.post(GOOD, Authorization="Bearer s3cret-old")[0] == 202
    assert served_with_token.post(GOOD, Authorization="bearer s3cret-new")[0] == 202


def test_status_and_dlq_need_the_token_probes_do_not(served_with_token: ServedApp) -> None:
    """/v1/status and /v1/dlq are protected; /healthz, /readyz and /metrics stay open for probes and scrapers."""
    assert served_with_token.request("GET", "/v1/status")[0] == 401
    assert served_with_token.request("GET", "/v1/dlq")[0] == 401
    assert served_with_token.request("GET", "/v1/status", headers={"Authorization": "Bearer s3cret-new"})[0] == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        assert served_with_token.request("GET", path)[0] == 200


def test_token_helpers() -> None:
    """Only 'Bearer <token>' is read, and a match needs an exact, full-length token."""
    assert presented_token("Basic abc") is None
    assert presented_token("Bearer   ") is None
    assert presented_token("Bearer abc") == "abc"
    assert token_matches("abc", ["zzz", "abc"])
    assert not token_matches("ab", ["abc"]) and not token_matches("abcd", ["abc"]) and not token_matches("x", [])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    """Loopback addresses and localhost count as loopback."""
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.internal"])
def test_non_loopback_hosts(host: str) -> None:
    """Wildcards, private addresses and other host names are not loopback."""
    assert not is_loopback(host)


def test_non_loopback_listen_without_token_is_refused(tmp_path: Path) -> None:
    """Listening on 0.0.0.0 without a token is a config error naming server.listen and the fix."""
    with pytest.raises(ConfigError) as caught:
        prepare(make_config(tmp_path, listen="0.0.0.0:8787"))
    assert "server.listen" in str(caught.value) and "token" in str(caught.value)


def test_non_loopback_listen_with_token_file_is_allowed(tmp_path: Path) -> None:
    """A token from token_file satisfies the rule, and its lines are all accepted."""
    (tmp_path / "tokens").write_text("one\n\ntwo\n")
    plan = prepare(make_config(tmp_path, listen="0.0.0.0:8787", token_file="tokens"))
    assert plan.tokens == ["one", "two"] and plan.url == "http://0.0.0.0:8787"


def test_tls_files_that_do_not_exist_are_a_config_error(tmp_path: Path) -> None:
    """Missing TLS files are reported as a config error on server.tls_cert."""
    with pytest.raises(ConfigError, match="server.tls_cert"):
        prepare(make_config(tmp_path, tls_cert="nope.pem", tls_key="nope.key"))


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ({"token": "${AUTHLOG_TOKEN}"}, "server.token"),
        ({"token": "   "}, "server.token"),
        ({"tokens": ["good-token", "${AUTHLOG_TOKEN}"]}, "server.tokens[1]"),
    ],
)
def test_a_token_that_resolves_to_empty_is_a_config_error(tmp_path: Path, server: dict[str, object], key: str) -> None:
    """A token key whose value is empty once ${VAR} is read (set but empty) is a config error naming the key, never auth off."""
    from shippers.config import config_from_dict

    raw = {"server": server, "sinks": {"local": {"type": "file", "path": str(tmp_path / "out")}}}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw, base_dir=tmp_path, environ={"AUTHLOG_TOKEN": ""})
    assert any(problem.startswith(f"{key}:") and "empty" in problem for problem in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"])
def test_a_token_file_without_a_token_is_a_config_error(tmp_path: Path, content: str) -> None:
    """An empty or whitespace-only token_file is a config error naming server.token_file, not a sidecar without auth."""
    (tmp_path / "tokens").write_text(content)
    with pytest.raises(ConfigError) as caught:
        prepare(make_config(tmp_path, token_file="tokens"))
    assert "server.token_file" in str(caught.value) and "no token" in str(caught.value)
