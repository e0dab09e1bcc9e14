"""One PutObject attempt with the real boto3 client against moto's S3 over a socket."""

from __future__ import annotations

import gzip
import socket

import pytest
from s3_testkit import no_credentials_anywhere, s3_config, unique_bucket

from adapters.s3.classify import error_code
from adapters.s3.transport import S3Transport, client_config, put_arguments
from shippers.delivery.attempt import Attempt
from shippers.testing.contract import closed_port
from shippers.testing.moto_s3 import MotoS3

BODY = gzip.compress(b'{"id":"a"}\n', mtime=0)


def _transport(s3: MotoS3, bucket: str, **keys: object) -> S3Transport:
    return S3Transport(s3_config(bucket=bucket, endpoint_url=s3.url, region=s3.region, **keys), timeout=60.0)


def ok(attempt: Attempt) -> bool:
    """S3 answered 200 (a PutObject's or HeadObject's success status)."""
    return attempt.answered and attempt.status == 200


def test_put_stores_the_object_with_its_headers(s3: MotoS3, bucket: str) -> None:
    """A PUT lands with ContentType, ContentEncoding, SSE and storage class as configured."""
    transport = _transport(s3, bucket, sse="AES256", storage_class="STANDARD_IA")
    outcome = transport.put("a/b.ndjson.gz", BODY, "tag")
    assert ok(outcome)
    head = s3.client().head_object(Bucket=bucket, Key="a/b.ndjson.gz")
    assert (head["ContentType"], head["ContentEncoding"]) == ("application/x-ndjson", "gzip")
    assert (head["ServerSideEncryption"], head["StorageClass"]) == ("AES256", "STANDARD_IA")
    assert s3.objects(bucket)["a/b.ndjson.gz"] == BODY


def test_kms_encryption_sends_the_key_id(s3: MotoS3, bucket: str) -> None:
    """sse = aws:kms with kms_key_id writes an SSE-KMS object with that key."""
    outcome = _transport(s3, bucket, sse="aws:kms", kms_key_id="alias/authlog").put("k/kms.gz", BODY, "tag")
    assert ok(outcome)
    head = s3.client().head_object(Bucket=bucket, Key="k/kms.gz")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "alias/authlog")


def test_checksum_is_sent_unless_turned_off(s3: MotoS3, bucket: str) -> None:
    """checksum = CRC32 stores a CRC32; checksum = none sends none (for stores that reject the header)."""
    assert ok(_transport(s3, bucket).put("c/with.gz", BODY, "tag"))
    assert ok(_transport(s3, bucket, checksum="none").put("c/without.gz", BODY, "tag"))
    client = s3.client()
    assert client.head_object(Bucket=bucket, Key="c/with.gz", ChecksumMode="ENABLED").get("ChecksumCRC32")
    assert not client.head_object(Bucket=bucket, Key="c/without.gz", ChecksumMode="ENABLED").get("ChecksumCRC32")
    assert client_config(s3_config(checksum="none"), 60.0).request_checksum_calculation == "when_required"
    assert "ChecksumAlgorithm" not in put_arguments(s3_config(checksum="none"), "k", BODY, "tag")


def test_second_put_to_the_same_key_is_412(s3: MotoS3, bucket: str) -> None:
    """IfNoneMatch="*" makes a repeat a 412 and leaves the first object untouched."""
    transport = _transport(s3, bucket)
    assert ok(transport.put("d/x.gz", BODY, "tag"))
    again = transport.put("d/x.gz", gzip.compress(b"other\n", mtime=0), "tag")
    assert (again.answered, again.status, error_code(again)) == (True, 412, "PreconditionFailed")
    assert s3.objects(bucket)["d/x.gz"] == BODY


def test_exactly_one_http_request_per_attempt(s3: MotoS3, bucket: str) -> None:
    """boto3's own retries are off: a 503 SlowDown comes back after one request, not after a hidden retry."""
    assert s3.faults is not None
    before = s3.faults.object_puts
    s3.faults.fail_next(1, retry_after=4)
    outcome = _transport(s3, bucket).put("e/x.gz", BODY, "tag")
    assert (outcome.status, error_code(outcome), outcome.retry_after) == (503, "SlowDown", "4")
    assert s3.faults.object_puts - before == 1
    assert s3.keys(bucket, "e/") == []


def test_missing_bucket_is_a_404_answer(s3: MotoS3) -> None:
    """A bucket that does not exist is S3's 404 NoSuchBucket, passed through as data."""
    outcome = _transport(s3, unique_bucket("missing")).put("f/x.gz", BODY, "tag")
    assert (outcome.answered, outcome.status, error_code(outcome)) == (True, 404, "NoSuchBucket")


def test_connection_refused_is_a_connection_outcome(s3: MotoS3) -> None:
    """Nothing listening: the exception is translated, not raised."""
    transport = S3Transport(s3_config(bucket="auth-logs", endpoint_url=f"http://127.0.0.1:{closed_port()}", region="us-east-1"), 60.0)
    outcome = transport.put("g/x.gz", BODY, "tag")
    assert outcome.failure == "connection" and outcome.detail.startswith("EndpointConnectionError")


def test_no_credentials_is_a_credentials_outcome(s3: MotoS3, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With no credentials anywhere in boto3's chain, the outcome says so instead of raising."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    outcome = _transport(s3, bucket).put("h/x.gz", BODY, "tag")
    assert outcome.failure == "credentials" and outcome.detail.startswith("NoCredentialsError")


def test_client_settings() -> None:
    """One attempt, the core's attempt timeout (connecting within at most 10 s of it), path-style on request."""
    config = client_config(s3_config(force_path_style=True), 60.0)
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.s3 == {"addressing_style": "path"}
    assert (config.connect_timeout, config.read_timeout) == (10.0, 60.0)
    assert (client_config(s3_config(), 2.5).connect_timeout, client_config(s3_config(), 2.5).read_timeout) == (2.5, 2.5)
    assert client_config(s3_config(), 60.0).s3 is None


def test_close_drops_the_client(s3: MotoS3, bucket: str) -> None:
    """After close() a new attempt builds a fresh client and still works."""
    transport = _transport(s3, bucket)
    assert ok(transport.put("i/1.gz", BODY, "tag"))
    transport.close()
    assert ok(transport.put("i/2.gz", BODY, "tag"))


def test_objects_carry_their_batch_tag(s3: MotoS3, bucket: str) -> None:
    """The tag is stored as x-amz-meta-authlog-batch and HeadObject reads it back."""
    transport = _transport(s3, bucket)
    assert ok(transport.put("j/x.gz", BODY, "0123abcd"))
    head = transport.head("j/x.gz")
    assert ok(head) and head.headers == {"x-amz-meta-authlog-batch": "0123abcd"}
    missing = transport.head("j/none.gz")
    assert (missing.answered, missing.status) == (True, 404)


def test_prepare_builds_the_client_without_a_request() -> None:
    """prepare() (the adapter's open) builds the client at the sink's start and sends nothing: a listener sees no connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        transport = S3Transport(s3_config(bucket="auth-logs", endpoint_url=url, region="us-east-1"), 60.0)
        transport.prepare()
        built = transport._client
        assert built is not None
        with pytest.raises(BlockingIOError):
            listener.accept()
        assert transport._get_client() is built  # the first PutObject uses it


def test_prepare_leaves_a_bad_endpoint_to_the_first_put() -> None:
    """A client botocore refuses to build does not fail the sink's start; the first PutObject reports it, as before."""
    transport = S3Transport(s3_config(bucket="auth-logs", endpoint_url="http://[not-a-host", region="us-east-1"), 60.0)
    transport.prepare()
    assert transport._client is None
    with pytest.raises(ValueError):
        transport.put("k", BODY, "tag")


def test_prepare_leaves_any_error_of_the_credential_chain_to_the_first_put(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A credential_process naming a missing program raises FileNotFoundError (no botocore error) while the client is
    built: prepare() is only an early build, so the sink still starts and the first PutObject meets it, as before."""
    no_credentials_anywhere(monkeypatch, tmp_path)
    config_file = tmp_path / "config"
    config_file.write_text(f"[default]\ncredential_process = {tmp_path / 'no-such-program'}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    transport = S3Transport(s3_config(bucket="auth-logs", endpoint_url="http://127.0.0.1:9", region="us-east-1"), 60.0)
    transport.prepare()
    assert transport._client is None
    with pytest.raises(FileNotFoundError):
        transport.put("k", BODY, "tag")
