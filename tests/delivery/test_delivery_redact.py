"""Secret redaction owned by the core: every reason an adapter returns is redacted, folded and cut."""

from __future__ import annotations

import base64

import msgspec
import pytest

from adapters.contract import Adapter, ItemResult, NoConfig, Request, SinkContext, Verdict
from shippers.catalog import builtin_catalog
from shippers.event import Event
from shippers.redact import MARK, MAX_REASON_CHARS, Redactor, secrets_in


class Signing(msgspec.Struct, kw_only=True):
    region: str
    secret_access_key: str


class SinkKeys(msgspec.Struct, kw_only=True):
    hosts: list[str]
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    bearer_token: str | None = None
    kms_key_id: str | None = None
    index: str = "authlog"
    signing: Signing | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)


def test_secrets_are_found_by_key_name_in_urls_and_in_nested_tables() -> None:
    """api_key, password, *_token, nested *_key and URL user info are secrets; names, ids and labels are not."""
    config = SinkKeys(
        hosts=["https://ops:hunter2@es.example:9200"], username="elastic", password="pa55word", api_key="id1:s3cret",
        bearer_token="tok-123", kms_key_id="alias/logs", signing=Signing(region="eu-west-1", secret_access_key="AKIAxyz"),
        labels={"env": "prod", "team_token": "t-9"},
    )  # fmt: skip
    found = set(secrets_in(config))
    assert {"ops:hunter2", "hunter2", "pa55word", "id1:s3cret", "tok-123", "AKIAxyz", "t-9"} <= found
    assert base64.b64encode(b"elastic:pa55word").decode() in found  # what a Basic header carries
    assert base64.b64encode(b"id1:s3cret").decode() in found  # what an ApiKey header carries
    assert not found & {"elastic", "alias/logs", "authlog", "eu-west-1", "prod"}


def test_configured_and_environment_secrets_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured secret and the value of a named environment variable never survive, wherever they appear."""
    monkeypatch.setenv("STUB_API_KEY", "env-secret-42\n")
    redactor = Redactor(["pa55word", "user:pa55word"], ["STUB_API_KEY", "UNSET_VARIABLE"])
    cleaned = redactor.clean("login user:pa55word failed; pa55word echoed; key env-secret-42 refused")
    assert cleaned == f"login {MARK} failed; {MARK} echoed; key {MARK} refused"


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("sent Authorization: Bearer abc.def-123 to the proxy", "Authorization: ", "abc.def-123"),
        ("{'authorization': 'Basic dTpw', 'accept': 'json'}", "'accept': 'json'", "dTpw"),
        ("header DD-API-KEY=0123456789abcdef was refused", "DD-API-KEY=", "0123456789abcdef"),
        ("x-api-key: k-77; retrying", "x-api-key: ", "k-77"),
        ("redirected to https://sso.example/cb?token=abc123&next=/home", "next=/home", "abc123"),
        ("GET /o?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA/x failed", "GET /o?", "deadbeef"),
        ("POST https://elastic:s3cret@es.example/_bulk refused", "https://", "s3cret"),
        ("token Bearer eyJhbGciOiJIUzI1NiJ9.e30.x was expired", "token Bearer ", "eyJhbGciOiJIUzI1NiJ9"),
    ],
)
def test_credential_shaped_values_are_removed_even_when_not_configured(text: str, kept: str, gone: str) -> None:
    """Authorization and api-key headers, scheme tokens, secret query parameters and URL user info are redacted."""
    cleaned = Redactor().clean(text)
    assert gone not in cleaned and kept in cleaned and MARK in cleaned, cleaned


def test_ordinary_reasons_are_left_alone() -> None:
    """Words that only look like the start of a credential stay: no secret, no change."""
    text = "Bearer authentication failed; check api_key, username/password or bearer_token (401 security_exception)"
    assert Redactor(["zz-secret"]).clean(text) == text


def test_reasons_are_folded_and_cut_after_redaction() -> None:
    """Whitespace is folded and a long reason cut to MAX_REASON_CHARS; a secret across the cut never shows in part."""
    secret = "S" * 40
    text = "x" * (MAX_REASON_CHARS - 10) + secret + " tail"
    cleaned = Redactor([secret]).clean("a \n\t b  " + text)
    assert cleaned.startswith("a b x") and len(cleaned) == MAX_REASON_CHARS and "SSSS" not in cleaned


class Echo(Adapter):
    """A test adapter whose open and send echo its secret back, as a careless server would."""

    name = "echo"
    summary = "echoes its secret"
    Config = NoConfig

    def __init__(self, context: SinkContext, config: object, verdict: Verdict | None) -> None:
        super().__init__(context, config)
        self.verdict = verdict
        self.redactor.add("hunter2")  # a secret it holds outside its config

    def map(self, event: Event) -> object:
        return event

    def open(self) -> Verdict | None:
        return self.verdict

    def send(self, request: Request) -> Verdict:
        assert self.verdict is not None
        return self.verdict


def echo(verdict: Verdict | None) -> Echo:
    """An Echo adapter answering ``verdict`` to open and send."""
    return Echo(SinkContext("echo", builtin_catalog(), lambda: 0.0), NoConfig(), verdict)


def test_every_verdict_an_adapter_returns_is_redacted() -> None:
    """Whatever open and send return, the whole reason and each item's reason leave without the sink's secret."""
    leaky = Verdict("per_item", "server said hunter2", items=(ItemResult("reject", "hunter2 in the doc"), ItemResult("delivered")))
    adapter = echo(leaky)
    for got in (adapter.open(), adapter.send(None)):  # type: ignore[arg-type]
        assert got is not None and "hunter2" not in got.reason
        assert [i.reason for i in got.items] == [f"{MARK} in the doc", ""]
    assert adapter.redact("ValueError: bad header hunter2") == f"ValueError: bad header {MARK}"


def test_a_clean_verdict_passes_unchanged() -> None:
    """A verdict without secrets is the very object the adapter returned; open's None stays None."""
    clean = Verdict.per_item([ItemResult("delivered"), ItemResult("retry", "later")])
    assert echo(clean).send(None) is clean  # type: ignore[arg-type]
    assert echo(None).open() is None
