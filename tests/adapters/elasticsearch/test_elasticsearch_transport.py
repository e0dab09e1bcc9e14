"""The adapter's one attempt, with the real elasticsearch v9 client (and the OpenSearch path) over a socket."""

from __future__ import annotations

import base64
import gzip
import hashlib
from email.utils import formatdate
from typing import Any

import pytest
from es_testkit import FIXED, CaptureServer, make_adapter, numbered, request_for

from adapters.elasticsearch.index_template import template_name
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.ports import free_port

DS = "logs-authlog-default"


def adapter_for(server: FakeElasticsearch | CaptureServer, **keys: Any) -> Any:
    flavor = server.flavor if isinstance(server, FakeElasticsearch) else keys.pop("flavor", "elasticsearch")
    return make_adapter(hosts=[server.url], flavor=flavor, **keys)




def test_open_installs_the_template_and_send_creates_documents(cluster: FakeElasticsearch) -> None:
    """open() installs the data-stream template; send() writes every event under its _id, gzipped."""
    adapter = adapter_for(cluster, data_stream=DS)
    assert adapter.open() is None
    templates = cluster.index_templates()
    assert list(templates) == [template_name(DS)]
    assert templates[template_name(DS)]["data_stream"] == {}
    verdict = adapter.send(request_for(adapter, numbered(20)))
    assert verdict.kind == "delivered"
    docs = cluster.documents(DS)
    assert sorted(docs) == [f"ev-{i:05d}" for i in range(20)]
    assert docs["ev-00003"]["event"]["id"] == "ev-00003" and docs["ev-00003"]["source"]["ip"] == "198.51.100.9"
    assert cluster.data_streams() == [DS]
    bulk = [r for r in cluster.requests if r.path == "/_bulk"]
    assert len(bulk) == 1 and bulk[0].headers["content-encoding"] == "gzip"
    assert bulk[0].query == {"filter_path": "errors,items.*.status,items.*.error"}
    expected = "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
    if cluster.flavor == "opensearch":
        expected = "application/x-ndjson"
    assert bulk[0].headers["content-type"] == expected
    adapter.close()


def test_setup_is_idempotent_and_optional(es: FakeElasticsearch) -> None:
    """Opening twice leaves one identical template; setup = false installs none."""
    first = adapter_for(es, index="authlog-events")
    assert first.open() is None and first.open() is None
    second = adapter_for(es, index="authlog-events")
    assert second.open() is None
    assert list(es.index_templates()) == ["authlog-authlog-events"]
    es.reset()
    bare = adapter_for(es, index="authlog-events", setup=False)
    assert bare.open() is None
    assert bare.send(request_for(bare, numbered(2))).kind == "delivered"
    assert es.index_templates() == {}
    for adapter in (first, second, bare):
        adapter.close()


def test_elasticsearch_flavor_against_opensearch_says_set_flavor(opensearch: FakeElasticsearch) -> None:
    """The v9 client's compat media types are refused by OpenSearch: a sink_error that names the fix."""
    adapter = make_adapter(hosts=[opensearch.url], data_stream=DS)
    verdict = adapter.open()
    assert verdict is not None and verdict.kind == "sink_error"
    assert 'flavor = "opensearch"' in verdict.reason
    adapter.close()


def test_product_check_failure_is_a_sink_error() -> None:
    """A 2xx without X-Elastic-Product (not Elasticsearch) is a sink_error, not a crash."""
    with CaptureServer(product=False) as server:
        adapter = make_adapter(hosts=[server.url], setup=False)
        verdict = adapter.send(request_for(adapter, numbered(1)))
    assert verdict.kind == "sink_error" and "not Elasticsearch" in verdict.reason
    adapter.close()


def test_opensearch_flavor_also_talks_to_elasticsearch(es: FakeElasticsearch) -> None:
    """Plain JSON/NDJSON is accepted by Elasticsearch too, so flavor = opensearch is never a trap."""
    adapter = make_adapter(hosts=[es.url], flavor="opensearch", index="authlog-events")
    assert adapter.open() is None
    assert adapter.send(request_for(adapter, numbered(3))).kind == "delivered"
    assert len(es.documents("authlog-events")) == 3
    adapter.close()


def test_faults_become_verdicts(cluster: FakeElasticsearch) -> None:
    """Throttling, proxy errors, per-item 429 and 400, resend 409s and 413 all come back as Verdicts."""
    adapter = adapter_for(cluster, data_stream=DS)
    events = numbered(6)
    request = request_for(adapter, events)

    cluster.throttle_next(1, retry_after=4)
    throttled = adapter.send(request)
    assert (throttled.kind, throttled.retry_after) == ("retry", 4.0)
    cluster.fail_next(1, status=502)
    assert adapter.send(request).kind == "retry"

    cluster.reject_items("ev-00001")
    cluster.mapping_error_for("ev-00002")
    first = adapter.send(request)
    assert [i.outcome for i in first.items] == ["delivered", "retry", "reject", "delivered", "delivered", "delivered"]
    assert first.items[2].reason.startswith(("document_parsing_exception: ", "mapper_parsing_exception: "))
    assert "failed to parse field [source.ip]" in first.items[2].reason

    again = adapter.send(request)
    assert [i.outcome for i in again.items] == [
        "duplicate",
        "delivered",
        "reject",
        "duplicate",
        "duplicate",
        "duplicate",
    ]
    assert sorted(cluster.documents(DS)) == [e.id for e in events if e.id != "ev-00002"]

    cluster.max_content_length = 100
    assert adapter.send(request).kind == "split"
    adapter.close()


def test_unreachable_cluster_is_retried_and_writes_nothing_before_setup() -> None:
    """With nothing listening, open() and send() say retry, and no bulk is attempted before the template."""
    adapter = make_adapter(hosts=[f"http://127.0.0.1:{free_port()}"], data_stream=DS)
    opened = adapter.open()
    assert opened is not None and opened.kind == "retry" and "index template" in opened.reason
    sent = adapter.send(request_for(adapter, numbered(2)))
    assert sent.kind == "retry" and "index template" in sent.reason
    adapter.close()


def test_tls_failure_is_a_sink_error(es: FakeElasticsearch) -> None:
    """Talking TLS to a server that does not is a TLS failure with a fix, not an endless retry."""
    adapter = make_adapter(hosts=[es.url.replace("http://", "https://")], setup=False)
    verdict = adapter.send(request_for(adapter, numbered(1)))
    assert verdict.kind == "sink_error" and "TLS" in verdict.reason
    adapter.close()


def test_slow_answer_times_out_as_retry(es: FakeElasticsearch) -> None:
    """A bulk answer slower than request_timeout is a retry (the client does not retry on its own)."""
    adapter = make_adapter(hosts=[es.url], setup=False, request_timeout=0.2)
    es.slow_next(1, seconds=1.0)
    verdict = adapter.send(request_for(adapter, numbered(1)))
    assert verdict.kind == "retry" and "request_timeout" in verdict.reason
    assert len([r for r in es.requests if r.path == "/_bulk"]) == 1  # one attempt, no client retry
    adapter.close()


def test_client_makes_exactly_one_attempt_on_503(es: FakeElasticsearch) -> None:
    """The client's own retries are off: a 503 reaches the classifier after exactly one request."""
    adapter = make_adapter(hosts=[es.url], setup=False)
    es.fail_next(3, status=503)
    assert adapter.send(request_for(adapter, numbered(2))).kind == "retry"
    assert len([r for r in es.requests if r.path == "/_bulk"]) == 1
    adapter.close()


@pytest.mark.parametrize(
    ("flavor", "keys", "expected"),
    [
        ("elasticsearch", {"api_key": "ZW5jb2RlZA=="}, "ApiKey ZW5jb2RlZA=="),
        ("elasticsearch", {"api_key": "id1:secret1"}, "ApiKey " + base64.b64encode(b"id1:secret1").decode()),
        (
            "elasticsearch",
            {"username": "elastic", "password": "pw"},
            "Basic " + base64.b64encode(b"elastic:pw").decode(),
        ),
        ("elasticsearch", {"bearer_token": "tok"}, "Bearer tok"),
        ("opensearch", {"username": "admin", "password": "pw"}, "Basic " + base64.b64encode(b"admin:pw").decode()),
        ("opensearch", {"bearer_token": "tok"}, "Bearer tok"),
    ],
)
def test_credentials_reach_the_wire(flavor: str, keys: dict[str, Any], expected: str) -> None:
    """Each way to authenticate sends the Authorization header the cluster expects, on both flavors."""
    with CaptureServer() as server:
        adapter = make_adapter(hosts=[server.url], flavor=flavor, **keys)
        assert adapter.open() is None
        ((method, path, headers, _),) = server.requests
    assert (method, path) == ("PUT", "/_index_template/authlog-logs-authlog.events-default")
    assert headers["authorization"] == expected
    adapter.close()


@pytest.mark.parametrize("flavor", ["elasticsearch", "opensearch"])
def test_auth_failures_are_sink_errors_without_secrets(flavor: str) -> None:
    """401 and 403 keep the events (sink_error), say what to fix, and never echo a secret."""
    with CaptureServer() as server:
        adapter = make_adapter(
            hosts=[server.url], flavor=flavor, username="elastic", password="hunter2-secret", setup=False
        )
        server.status = 401
        server.body = {
            "error": {"type": "security_exception", "reason": "bad credentials hunter2-secret"},
            "status": 401,
        }
        unauthorised = adapter.send(request_for(adapter, numbered(1)))
        server.status = 403
        server.body = {
            "error": {"type": "security_exception", "reason": "action [indices:data/write/bulk[s]] is unauthorized"},
            "status": 403,
        }
        forbidden = adapter.send(request_for(adapter, numbered(1)))
    assert unauthorised.kind == forbidden.kind == "sink_error"
    assert "hunter2-secret" not in unauthorised.reason and "[redacted]" in unauthorised.reason
    assert "create_doc" in forbidden.reason
    adapter.close()


def test_sigv4_signs_exactly_the_bytes_on_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    """aws_sigv4 gzips, then signs: the signature recomputed from the received request matches."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with CaptureServer(product=False) as server:
        adapter = make_adapter(hosts=[server.url], flavor="opensearch", aws_sigv4={"region": "eu-west-1"}, setup=False)
        server.body = {"errors": False, "items": [{"create": {"status": 201}}]}
        assert adapter.send(request_for(adapter, numbered(1))).kind == "delivered"
        ((method, path, headers, body),) = server.requests
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body).count(b"\n") == 2
    assert headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    authorization = headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTING/")
    assert "/eu-west-1/es/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "content-encoding"} <= set(signed)
    replay = AWSRequest(method=method, url=server.url + path, data=body, headers={h: headers[h] for h in signed})
    replay.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials("AKIDTESTING", "testing-secret"), "es", "eu-west-1")
    signature = signer.signature(signer.string_to_sign(replay, signer.canonical_request(replay)), replay)
    assert authorization.endswith(f"Signature={signature}")
    adapter.close()


def test_sigv4_without_credentials_is_a_sink_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AWS credentials anywhere: a sink_error saying so, and nothing is sent unsigned."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with CaptureServer(product=False) as server:
        adapter = make_adapter(hosts=[server.url], flavor="opensearch", aws_sigv4={"region": "eu-west-1"}, setup=False)
        verdict = adapter.send(request_for(adapter, numbered(1)))
        assert server.requests == []
    assert verdict.kind == "sink_error" and "AWS credentials" in verdict.reason
    adapter.close()


@pytest.mark.parametrize(("date", "server_now"), [(formatdate(FIXED + 3600, usegmt=True), FIXED + 3600), ("not a date", FIXED)])
def test_send_measures_retry_after_dates_from_the_answer_date_else_the_injected_clock(date: str, server_now: float) -> None:
    """A Retry-After HTTP date read through the real client is measured from the answer's Date (the server's clock, here an
    hour ahead of ours) or, when that Date is unreadable, from the sink's injected clock."""
    with CaptureServer() as server:
        adapter = make_adapter(clock=lambda: FIXED, hosts=[server.url], setup=False)
        server.status = 429
        server.body = {"error": {"type": "es_rejected_execution_exception", "reason": "busy"}, "status": 429}
        server.headers = {"Retry-After": formatdate(server_now + 42, usegmt=True), "Date": date}
        verdict = adapter.send(request_for(adapter, numbered(1)))
    assert (verdict.kind, verdict.retry_after) == ("retry", 42.0)
    adapter.close()


@pytest.mark.parametrize(
    ("flavor", "keys", "expected"),
    [
        ("elasticsearch", {"api_key": "ZW5jb2RlZA==\n"}, "ApiKey ZW5jb2RlZA=="),
        ("elasticsearch", {"bearer_token": " tok\r\n"}, "Bearer tok"),
        ("opensearch", {"bearer_token": "tok\n"}, "Bearer tok"),
        ("opensearch", {"username": "admin", "password": "pw\n"}, "Basic " + base64.b64encode(b"admin:pw").decode()),
    ],
)
def test_secrets_read_from_a_file_lose_their_trailing_newline(flavor: str, keys: dict[str, Any], expected: str) -> None:
    """A secret with surrounding whitespace (a Kubernetes secret file's newline) reaches the wire trimmed and is accepted."""
    with CaptureServer() as server:
        adapter = make_adapter(hosts=[server.url], flavor=flavor, **keys)
        assert adapter.open() is None
        ((_, _, headers, _),) = server.requests
    assert headers["authorization"] == expected
    adapter.close()


@pytest.mark.parametrize(
    ("flavor", "key"),
    [("elasticsearch", "api_key"), ("elasticsearch", "bearer_token"), ("opensearch", "bearer_token")],
)
def test_a_header_the_client_refuses_is_a_sink_error_that_never_shows_the_secret(flavor: str, key: str) -> None:
    """http.client's ValueError quoting an invalid Authorization header becomes a sink_error without the secret, on setup and send."""
    with CaptureServer() as server:
        adapter = make_adapter(hosts=[server.url], flavor=flavor, **{key: "placeholder"})
        setattr(adapter.config, key, "SECRET-VALUE\n")  # past the config check, as a future key or header might be
        opened = adapter.open()
        sent = adapter.send(request_for(adapter, numbered(1)))
        assert server.requests == []
    for verdict in (opened, sent):
        assert verdict is not None and verdict.kind == "sink_error"
        assert "SECRET" not in verdict.reason and "ValueError" in verdict.reason and key in verdict.reason
    adapter.close()


def test_a_non_latin1_token_is_a_scrubbed_sink_error() -> None:
    """A bearer_token with a character HTTP headers cannot carry is a sink_error (not an exception the core would retry forever)."""
    with CaptureServer(product=False) as server:
        adapter = make_adapter(hosts=[server.url], flavor="opensearch", bearer_token="tok\u2603SEKRIT", setup=False)
        verdict = adapter.send(request_for(adapter, numbered(1)))
        assert server.requests == []
    assert verdict.kind == "sink_error" and "SEKRIT" not in verdict.reason and "bearer_token" in verdict.reason
    adapter.close()


@pytest.mark.parametrize("flavor", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize(
    ("status", "error", "fix"),
    [
        (400, ("index_closed_exception", "closed"), "_open"),
        (400, ("invalid_index_name_exception", "Invalid index name [Authlog], must be lowercase"), "index / data_stream"),
        (
            400,
            ("validation_exception", "Validation Failed: 1: this action would add [2] shards, but this cluster "
             "currently has [1000]/[1000] maximum normal shards open;"),
            "max_shards_per_node",
        ),
        (403, ("cluster_block_exception", "index [authlog-events] blocked by: [FORBIDDEN/8/index write (api)];"), "index.blocks"),
        (
            400,
            ("illegal_argument_exception", "no write index is defined for alias [authlog-events]. The write index may "
             "be explicitly disabled using is_write_index=false or the alias points to multiple indices without one "
             "being designated as a write index"),
            "is_write_index",
        ),
    ],
)  # fmt: skip
def test_item_errors_about_the_index_keep_every_event(
    flavor: str, status: int, error: tuple[str, str], fix: str
) -> None:
    """A per-item error about the index (closed, bad name, shard limit, write block, alias without a write index) is a sink_error saying what to fix, not a DLQ for the stream."""
    with CaptureServer() as server:
        adapter = make_adapter(hosts=[server.url], flavor=flavor, setup=False, index="authlog-events")
        failed = {"create": {"status": status, "error": {"type": error[0], "reason": error[1]}}}
        server.body = {"errors": True, "items": [failed, failed]}
        verdict = adapter.send(request_for(adapter, numbered(2)))
    assert (verdict.kind, verdict.items) == ("sink_error", ())
    assert error[0] in verdict.reason and fix in verdict.reason and "'authlog-events'" in verdict.reason
    adapter.close()


@pytest.mark.parametrize("flavor", ["elasticsearch", "opensearch"])
def test_unknown_item_statuses_retry_and_document_errors_still_reject(flavor: str) -> None:
    """A per-item 408 (or another unknown status) retries that event; 400s about a field still go to the DLQ."""
    with CaptureServer() as server:
        adapter = make_adapter(hosts=[server.url], flavor=flavor, setup=False)

        def failed(status: int, type_: str, reason: str) -> dict[str, Any]:
            return {"create": {"status": status, "error": {"type": type_, "reason": reason}}}

        server.body = {"errors": True, "items": [
            failed(408, "request_timeout", "timed out"),
            failed(418, "unknown", "?"),
            failed(400, "document_parsing_exception", "[1:2] failed to parse field [source.ip] of type [ip]"),
            failed(400, "mapper_parsing_exception", "failed to parse field [user.id]"),
            failed(400, "strict_dynamic_mapping_exception", "mapping set to strict, dynamic introduction of [x]"),
            failed(400, "illegal_argument_exception", "field [event.created] of type [date] does not support"),
            {"create": {"status": 201}},
        ]}  # fmt: skip
        verdict = adapter.send(request_for(adapter, numbered(7)))
    assert verdict.kind == "per_item"
    assert [i.outcome for i in verdict.items] == ["retry", "retry", "reject", "reject", "reject", "reject", "delivered"]
    adapter.close()
