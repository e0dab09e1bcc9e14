"""The S3 adapter end to end over one request: map, encode, key, PUT to moto, classify; and the contract suite."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
from s3_testkit import (
    FIXED,
    every_type_and_reason,
    full_event,
    make_adapter,
    make_request,
    no_credentials_anywhere,
    unique_bucket,
)

from adapters.contract import Adapter
from adapters.s3 import S3Adapter
from adapters.s3.encoder import encode_body
from shippers.event import encode_event
from shippers.testing.contract import AdapterContract, closed_port
from shippers.testing.moto_s3 import MotoS3
from shippers.testing.scripted_http import Answer, ScriptedHTTPServer


def _adapter(s3: MotoS3, bucket: str, **keys: object) -> S3Adapter:
    return make_adapter(bucket=bucket, endpoint_url=s3.url, region=s3.region, **keys)


def test_send_writes_one_object_at_the_recorded_key(s3: MotoS3, bucket: str) -> None:
    """A request becomes one gzip NDJSON object at request.key holding its archive lines in order."""
    adapter = _adapter(s3, bucket, prefix="authlog/")
    events = [full_event(t, r, id=f"e-{i}") for i, (t, r) in enumerate(every_type_and_reason())]
    request = make_request(adapter, events, first_seq=11)
    assert adapter.send(request).kind == "delivered"
    stored = s3.objects(bucket)
    assert list(stored) == [request.key]
    assert request.key == f"authlog/dt=2026-11-25/hour=19/{11:020d}-{11 + len(events) - 1:020d}-archive.ndjson.gz"
    assert gzip.decompress(stored[request.key]) == b"".join(encode_event(e) + b"\n" for e in events)


def test_the_object_is_compressed_at_the_configured_level(s3: MotoS3, bucket: str) -> None:
    """gzip_level reaches the object: zlib's level 9 stores the same lines in fewer bytes than the fast default."""
    events = [full_event(t, r, id=f"e-{i}") for i, (t, r) in enumerate(every_type_and_reason() * 20)]
    sizes = {}
    for level in (None, 9):
        adapter = _adapter(s3, bucket, prefix=f"level{level}/", gzip_level=level)
        request = make_request(adapter, events)
        assert adapter.send(request).kind == "delivered"
        body = s3.objects(bucket)[request.key]
        assert body == encode_body(list(request.items), level)
        assert gzip.decompress(body) == b"".join(encode_event(e) + b"\n" for e in events)
        sizes[level] = len(body)
    assert sizes[9] < sizes[None]


def test_resend_is_a_duplicate_and_changes_nothing(s3: MotoS3, bucket: str) -> None:
    """Sending the recorded request again (a crash before the ack) is a 412 duplicate; the object is unchanged."""
    adapter = _adapter(s3, bucket)
    request = make_request(adapter, [full_event("login.completed", id="once")])
    assert adapter.send(request).kind == "delivered"
    first = s3.objects(bucket)
    restarted = _adapter(s3, bucket)  # a new process re-cuts the same batch
    assert restarted.send(make_request(restarted, [full_event("login.completed", id="once")])).kind == "duplicate"
    assert s3.objects(bucket) == first


def test_without_a_recorded_key_the_adapter_derives_it(s3: MotoS3, bucket: str) -> None:
    """request.key None (a core that records no key) still writes to object_key(partition, first, last)."""
    adapter = _adapter(s3, bucket, partition_by=["tenant"])
    request = make_request(adapter, [full_event("login.completed")], first_seq=3, key=None)
    assert adapter.send(request).kind == "delivered"
    assert s3.keys(bucket) == [adapter.object_key("dt=2026-11-25/hour=19/tenant=t-42", 3, 3)]


def test_ocsf_objects_hold_ocsf_lines(s3: MotoS3, bucket: str) -> None:
    """format = "ocsf" writes one OCSF JSON line per event."""
    adapter = _adapter(s3, bucket, format="ocsf")
    request = make_request(adapter, [full_event("user.locked", "limit_passed")])
    assert adapter.send(request).kind == "delivered"
    (lines,) = s3.read_lines(bucket).values()
    assert [(line["class_uid"], line["type_uid"], line["metadata"]["uid"]) for line in lines] == [(3002, 300201, request.events[0].id)]


def test_slowdown_is_a_retry_with_retry_after(s3: MotoS3, bucket: str) -> None:
    """An injected 503 SlowDown with Retry-After is a retry verdict carrying the delay; the next attempt lands."""
    assert s3.faults is not None
    adapter = _adapter(s3, bucket)
    request = make_request(adapter, [full_event("login.completed")])
    s3.faults.fail_next(1, retry_after=12)
    verdict = adapter.send(request)
    assert (verdict.kind, verdict.retry_after) == ("retry", 12.0) and "SlowDown" in verdict.reason
    assert adapter.send(request).kind == "delivered"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(409, "ConditionalRequestConflict", "retry"), (500, "InternalError", "retry"), (403, "AccessDenied", "sink_error"),
     (400, "KeyTooLongError", "reject"), (400, "EntityTooLarge", "split")],
)
def test_injected_answers_are_classified(s3: MotoS3, bucket: str, status: int, code: str, kind: str) -> None:
    """Real S3 error bodies parsed by boto3 reach the classifier intact."""
    assert s3.faults is not None
    adapter = _adapter(s3, bucket)
    s3.faults.fail_next(1, status=status, code=code)
    assert adapter.send(make_request(adapter, [full_event("login.completed")])).kind == kind


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "InvalidURI"), (400, "XMinioInvalidObjectName"), (400, "InvalidDigest"), (400, "MalformedXML")],
)
def test_setup_400s_keep_the_events(s3: MotoS3, bucket: str, status: int, code: str) -> None:
    """A 400 not caused by the batch (endpoint, store, checksum) is a sink_error saying what to check, not a DLQ of the stream."""
    assert s3.faults is not None
    adapter = _adapter(s3, bucket)
    s3.faults.fail_next(1, status=status, code=code, message="refused")
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "sink_error" and code in verdict.reason
    assert "endpoint_url" in verdict.reason and "proxy" in verdict.reason and "checksum" in verdict.reason


def test_only_transient_409s_are_retried(s3: MotoS3, bucket: str) -> None:
    """A 409 InvalidBucketState keeps the events as a sink_error; 409 OperationAborted is still retried."""
    assert s3.faults is not None
    adapter = _adapter(s3, bucket)
    request = make_request(adapter, [full_event("login.completed")])
    s3.faults.fail_next(1, status=409, code="InvalidBucketState", message="not valid for the current state of the bucket")
    assert adapter.send(request).kind == "sink_error"
    s3.faults.fail_next(1, status=409, code="OperationAborted", message="A conflicting operation is in progress")
    assert adapter.send(request).kind == "retry"


@pytest.fixture(scope="session")
def stub_server() -> Iterator[ScriptedHTTPServer]:
    """A tiny local HTTP server for answers moto and its fault injector cannot give (HTML 400s, a denied HEAD)."""
    with ScriptedHTTPServer(Answer(500, {"Content-Type": "text/plain"}, b"nothing scripted for this request")) as server:
        yield server


@pytest.fixture
def stub(stub_server: ScriptedHTTPServer) -> ScriptedHTTPServer:
    """The session's stub with no canned answers left from another test."""
    stub_server.reset()
    return stub_server


def _stub_adapter(server: ScriptedHTTPServer) -> S3Adapter:
    return make_adapter(endpoint_url=server.url, region="us-east-1", force_path_style=True)


def test_a_proxys_html_400_keeps_the_events(stub: ScriptedHTTPServer) -> None:
    """An HTML 400 from a proxy in front of S3 is a sink_error naming the proxy and endpoint, not a DLQ of the batch."""
    page = b"<html><body><h1>400 Bad Request</h1>Request Header Or Cookie Too Large</body></html>"
    stub.queue(Answer(400, {"Content-Type": "text/html"}, page))  # the PUT
    adapter = _stub_adapter(stub)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "sink_error" and "proxy" in verdict.reason and "endpoint_url" in verdict.reason


def test_a_412_whose_object_cannot_be_read_is_not_acked(stub: ScriptedHTTPServer) -> None:
    """After a 412, a HeadObject denied with 403 keeps the events (sink_error asking for s3:GetObject) instead of a duplicate."""
    error = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>'
    xml = {"Content-Type": "application/xml"}
    stub.queue(Answer(412, xml, error), Answer(403, xml))  # the PUT, then the HEAD
    adapter = _stub_adapter(stub)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "sink_error" and "grant s3:GetObject" in verdict.reason


def test_lost_answer_then_resend_is_a_duplicate(s3: MotoS3, bucket: str) -> None:
    """The object is stored but the answer is lost (500): the core's retry finds it there (412)."""
    assert s3.faults is not None
    adapter = _adapter(s3, bucket)
    request = make_request(adapter, [full_event("login.completed")])
    s3.faults.lose_answers(1)
    assert adapter.send(request).kind == "retry"
    assert adapter.send(request).kind == "duplicate"
    assert len(s3.keys(bucket)) == 1


def test_missing_bucket_is_a_sink_error_naming_it(s3: MotoS3) -> None:
    """Writing to a bucket that does not exist keeps the events and says to create the bucket."""
    name = unique_bucket("absent")
    adapter = _adapter(s3, name)
    verdict = adapter.send(make_request(adapter, [full_event("login.completed")]))
    assert verdict.kind == "sink_error" and f"'{name}'" in verdict.reason and "create it" in verdict.reason


def test_check_item_uses_the_default_limit() -> None:
    """An item over the per-line limit is refused before any request is built."""
    adapter = make_adapter()
    event = full_event("login.completed")
    assert adapter.check_item(event, b"x" * (adapter.hard_limits.max_item_bytes + 1), FIXED)


def test_the_adapter_is_the_s3_plugin() -> None:
    """The entry point 's3' loads this class (what `type = "s3"` picks)."""
    from shippers.plugins import adapter_class

    assert adapter_class("s3") is S3Adapter


class TestS3Contract(AdapterContract):
    """The shared adapter contract, for the archive, the OCSF and the Security Lake Parquet formats."""

    @pytest.fixture(params=["ndjson", "ocsf", "ocsf-parquet"])
    def adapter(self, request: pytest.FixtureRequest, s3: MotoS3, bucket: str) -> Adapter:
        if request.param == "ocsf-parquet":
            lake = {"account_id": "123456789012", "region": "us-east-1", "sources": {"3002": "auth", "3001": "account"}}
            return _adapter(s3, bucket, format=request.param, security_lake=lake, prefix="authlog/")
        return _adapter(s3, bucket, format=request.param, partition_by=["tenant"], prefix="authlog/")

    @pytest.fixture
    def unreachable_adapter(self) -> Adapter:
        return make_adapter(endpoint_url=f"http://127.0.0.1:{closed_port()}", region="us-east-1")


def test_lines_are_json_objects(s3: MotoS3, bucket: str) -> None:
    """Every stored line parses as one JSON object (SIEM S3 inputs split on newlines)."""
    adapter = _adapter(s3, bucket)
    events = [full_event("login.completed", id=f"j-{i}", details={"text": "line\nbreak"}) for i in range(3)]
    assert adapter.send(make_request(adapter, events)).kind == "delivered"
    (body,) = s3.objects(bucket).values()
    assert [json.loads(line)["id"] for line in gzip.decompress(body).splitlines()] == ["j-0", "j-1", "j-2"]


def test_another_writers_batch_at_our_key_is_a_sink_error(s3: MotoS3, bucket: str) -> None:
    """Two buffers numbering from 1 make the same key for different events: the second is kept, not acked."""
    first = _adapter(s3, bucket)
    assert first.send(make_request(first, [full_event("login.completed", id="pod-a-1")])).kind == "delivered"
    second = _adapter(s3, bucket)  # another shipper, its own buffer, the same seq 1
    verdict = second.send(make_request(second, [full_event("login.completed", id="pod-b-1")]))
    assert verdict.kind == "sink_error" and "different batch" in verdict.reason and "prefix" in verdict.reason
    assert [line["id"] for lines in s3.read_lines(bucket).values() for line in lines] == ["pod-a-1"]


def test_resend_after_a_format_change_is_still_our_batch(s3: MotoS3, bucket: str) -> None:
    """The tag comes from event ids, so a resend whose lines changed (upgrade, format) is still a duplicate."""
    archive = _adapter(s3, bucket)
    events = [full_event("login.completed", id="same-1"), full_event("login.completed", id="same-2")]
    assert archive.send(make_request(archive, events)).kind == "delivered"
    ocsf = _adapter(s3, bucket, format="ocsf")
    assert ocsf.send(make_request(ocsf, events)).kind == "duplicate"


def test_batch_recorded_under_an_old_prefix_already_there_is_a_duplicate(s3: MotoS3, bucket: str) -> None:
    """After a prefix change, a batch that landed at its recorded (old) key is not written again."""
    old = _adapter(s3, bucket, prefix="old/")
    events = [full_event("login.completed", id="moved-1")]
    request = make_request(old, events)
    assert old.send(request).kind == "delivered"
    new = _adapter(s3, bucket, prefix="new/")
    resent = make_request(new, events, key=request.key)  # the core resends the batch as recorded
    assert new.send(resent).kind == "duplicate"
    assert s3.keys(bucket) == [request.key]


def test_batch_recorded_under_an_old_prefix_not_there_goes_to_the_new_key(s3: MotoS3, bucket: str) -> None:
    """After a prefix change, a batch that never landed is written under the current prefix."""
    new = _adapter(s3, bucket, prefix="new/")
    events = [full_event("login.completed", id="moved-2")]
    old_key = _adapter(s3, bucket, prefix="old/").object_key("dt=2026-11-25/hour=19", 1, 1)
    assert new.send(make_request(new, events, key=old_key)).kind == "delivered"
    assert s3.keys(bucket) == [new.object_key("dt=2026-11-25/hour=19", 1, 1)]


def test_expired_credentials_are_resolved_afresh_on_the_next_attempt(stub: ScriptedHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """After S3 answers ExpiredToken (a wall clock stepped back keeps botocore trusting an expired credential), the next
    attempt signs with freshly resolved credentials instead of the cached ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBEFORESTEP")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-before")
    expired = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>'
    stub.queue(Answer(400, {"Content-Type": "application/xml"}, expired), Answer(200, {"ETag": '"abc"'}))
    adapter = _stub_adapter(stub)
    request = make_request(adapter, [full_event("login.completed")])
    assert adapter.send(request).kind == "sink_error"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDREFRESHED")  # what the role / instance profile hands out now
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-refreshed")
    assert adapter.send(request).kind == "delivered"
    signed = [r.headers.get("authorization", "") for r in stub.requests]
    assert "Credential=AKIDBEFORESTEP/" in signed[0] and "Credential=AKIDREFRESHED/" in signed[1]
    adapter.close()


def test_a_sink_opened_before_its_credentials_exist_delivers_once_they_do(
    stub: ScriptedHTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path  # type: ignore[no-untyped-def]
) -> None:
    """open() at boot, before the role or instance profile hands out credentials, must not pin a client without any:
    the first send after they appear signs with them (as when the client was built by the first PutObject)."""
    no_credentials_anywhere(monkeypatch, tmp_path)
    stub.queue(Answer(200, {"ETag": '"abc"'}))
    adapter = _stub_adapter(stub)
    assert adapter.open() is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDARRIVED")  # the instance profile is reachable now
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-arrived")
    assert adapter.send(make_request(adapter, [full_event("login.completed")])).kind == "delivered"
    assert "Credential=AKIDARRIVED/" in stub.requests[0].headers.get("authorization", "")
    adapter.close()


def test_a_send_that_found_no_credentials_looks_for_them_again_on_the_next_attempt(
    stub: ScriptedHTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path  # type: ignore[no-untyped-def]
) -> None:
    """A PutObject made while boto3's chain finds no credentials (the instance profile not answering yet) does not pin
    a client that signs with nothing: once they appear, the next attempt delivers with them."""
    no_credentials_anywhere(monkeypatch, tmp_path)
    stub.queue(Answer(200, {"ETag": '"abc"'}))
    adapter = _stub_adapter(stub)
    request = make_request(adapter, [full_event("login.completed")])
    assert adapter.send(request).kind == "sink_error"  # NoCredentialsError: nothing was sent
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDARRIVED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-arrived")
    assert adapter.send(request).kind == "delivered"
    assert "Credential=AKIDARRIVED/" in stub.requests[0].headers.get("authorization", "")
    adapter.close()
