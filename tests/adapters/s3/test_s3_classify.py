"""The classifier: every S3 answer and transport failure becomes the right Verdict, with a useful reason."""

from __future__ import annotations

import email.utils

import pytest
from s3_testkit import FIXED, s3_config

from adapters.s3.classify import classify
from shippers.delivery.attempt import Attempt

KEY = "authlog/dt=2026-11-25/hour=19/00000000000000000001-00000000000000000009-archive.ndjson.gz"


def _verdict(outcome: Attempt, **keys: object):  # type: ignore[no-untyped-def]
    config = s3_config(bucket="auth-logs", region="eu-west-1", prefix="authlog/", **keys)
    return classify(outcome, config, "archive", KEY, FIXED)


def answer(status: int, code: str = "", message: str = "", **headers: str) -> Attempt:
    """S3's answer as the transport hands it over: its parsed error and its headers."""
    return Attempt.http(status, {"Code": code, "Message": message}, {k.replace("_", "-"): v for k, v in headers.items()})


def failed(kind: str, code: str, message: str) -> Attempt:
    """No answer: botocore raised ``code`` (an exception class) with ``message``."""
    return Attempt.failed(kind, f"{code}: {message}")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (answer(200, etag='"9b2cf535f27731c974343645a3985328"'), "delivered"),
        (answer(200), "sink_error"), (answer(204, etag='"9b2c"'), "sink_error"), (answer(201, etag='"9b2c"'), "sink_error"),
        (answer(412, "PreconditionFailed"), "duplicate"),
        (answer(503, "SlowDown", "Please reduce your request rate."), "retry"),
        (answer(503, "ServiceUnavailable"), "retry"),
        (answer(500, "InternalError"), "retry"),
        (answer(502), "retry"),
        (answer(504), "retry"),
        (answer(409, "ConditionalRequestConflict"), "retry"),
        (answer(409, "OperationAborted"), "retry"),
        (answer(429, "TooManyRequests"), "retry"),
        (answer(400, "RequestTimeout"), "retry"),
        (answer(400, "IncompleteBody"), "retry"),
        (answer(400, "BadDigest"), "retry"),
        (answer(400, "EntityTooLarge"), "split"),
        (answer(404, "NoSuchBucket"), "sink_error"),
        (answer(403, "AccessDenied", "Access Denied"), "sink_error"),
        (answer(403, "InvalidAccessKeyId"), "sink_error"),
        (answer(403, "SignatureDoesNotMatch"), "sink_error"),
        (answer(400, "ExpiredToken"), "sink_error"),
        (answer(403, "RequestTimeTooSkewed"), "sink_error"),
        (answer(301, "PermanentRedirect"), "sink_error"),
        (answer(400, "AuthorizationHeaderMalformed"), "sink_error"),
        (answer(400, "KMS.NotFoundException", "Invalid keyId"), "sink_error"),
        (answer(400, "InvalidStorageClass"), "sink_error"),
        (answer(400, "InvalidArgument", "Server Side Encryption with AWS KMS managed key requires ..."), "sink_error"),
        (answer(501, "NotImplemented", "A header you provided implies functionality that is not implemented"), "sink_error"),
        (answer(405, "MethodNotAllowed"), "sink_error"),
        (answer(400, "KeyTooLongError"), "reject"),
        (answer(400, "MetadataTooLarge"), "reject"),
        (answer(400, "MalformedXML"), "sink_error"),
        (answer(400, "InvalidURI"), "sink_error"),
        (answer(400, "InvalidDigest"), "sink_error"),
        (answer(400, "XMinioInvalidObjectName"), "sink_error"),
        (answer(400, ""), "sink_error"),
        (answer(422, "Unprocessable"), "sink_error"),
        (answer(409, "InvalidBucketState"), "sink_error"),
        (answer(409, ""), "sink_error"),
        (failed("connection", "EndpointConnectionError", "Could not connect"), "retry"),
        (failed("timeout", "ReadTimeoutError", "Read timeout"), "retry"),
        (failed("credentials", "NoCredentialsError", "Unable to locate credentials"), "sink_error"),
        (failed("tls", "SSLError", "certificate verify failed"), "sink_error"),
        (failed("request", "ParamValidationError", "Invalid bucket name"), "sink_error"),
    ],
    ids=lambda v: f"{v.failure or 'answer'}-{v.status}-{v.body['Code'] if v.body else v.detail.split(':')[0]}" if isinstance(v, Attempt) else v,
)
def test_outcome_table(outcome: Attempt, kind: str) -> None:
    """The table in classify's docstring, row by row."""
    assert _verdict(outcome).kind == kind


def test_missing_bucket_says_what_to_fix() -> None:
    """A missing bucket names the bucket, the region and the keys to fix; it keeps the events (sink_error)."""
    verdict = _verdict(answer(404, "NoSuchBucket", "The specified bucket does not exist"))
    assert verdict.kind == "sink_error"
    assert "'auth-logs'" in verdict.reason and "eu-west-1" in verdict.reason
    assert "sinks.archive.bucket" in verdict.reason and "create it" in verdict.reason


def test_access_denied_names_the_permission() -> None:
    """403 AccessDenied tells which action on which resource to grant."""
    reason = _verdict(answer(403, "AccessDenied", "Access Denied")).reason
    assert "s3:PutObject" in reason and "arn:aws:s3:::auth-logs/authlog/*" in reason


def test_kms_denial_points_at_the_key() -> None:
    """An AccessDenied about KMS points at kms_key_id and kms:GenerateDataKey, not at S3 permissions."""
    message = "User: arn:aws:iam::1:user/x is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:..."
    reason = _verdict(answer(403, "AccessDenied", message), sse="aws:kms", kms_key_id="alias/k").reason
    assert "kms_key_id" in reason and "kms:GenerateDataKey" in reason


def test_wrong_region_names_the_right_one_when_s3_says_it() -> None:
    """S3's x-amz-bucket-region header becomes the suggested region setting."""
    verdict = _verdict(answer(301, "PermanentRedirect", x_amz_bucket_region="us-west-2"))
    assert verdict.kind == "sink_error" and 'sinks.archive.region = "us-west-2"' in verdict.reason


def test_missing_credentials_say_where_credentials_come_from() -> None:
    """No credentials: the reason lists boto3's usual sources."""
    reason = _verdict(failed("credentials", "NoCredentialsError", "Unable to locate credentials")).reason
    assert "AWS_ACCESS_KEY_ID" in reason and "AWS_PROFILE" in reason and "IAM role" in reason


def test_duplicate_names_the_object() -> None:
    """A 412 is counted apart and names the key that was already there."""
    verdict = _verdict(answer(412, "PreconditionFailed"))
    assert verdict.kind == "duplicate" and KEY in verdict.reason


def test_retry_after_seconds_is_honoured() -> None:
    """A SlowDown with Retry-After: 7 asks the core to wait at least 7 s."""
    verdict = _verdict(answer(503, "SlowDown", retry_after="7"))
    assert verdict.kind == "retry" and verdict.retry_after == 7.0 and "SlowDown" in verdict.reason


def test_retry_after_http_date_is_relative_to_the_injected_clock() -> None:
    """An HTTP-date Retry-After is converted with the adapter's clock, not the wall clock."""
    when = email.utils.formatdate(FIXED + 30, usegmt=True)
    assert _verdict(answer(503, "SlowDown", retry_after=when)).retry_after == pytest.approx(30, abs=1)
    assert _verdict(answer(503, "SlowDown", retry_after="soon")).retry_after is None


def test_reasons_stay_short() -> None:
    """An HTML error page from a proxy is cut down before it reaches status and logs."""
    verdict = _verdict(answer(502, "", "<html>" + "x" * 5000 + "</html>"))
    assert verdict.kind == "retry" and len(verdict.reason) < 400


def test_unknown_400_names_what_to_check() -> None:
    """A 400 S3 gives for no item-caused reason keeps the events and points at endpoint, proxy, store and checksum."""
    verdict = _verdict(answer(400, "InvalidURI", "Couldn't parse the specified URI."))
    assert verdict.kind == "sink_error"
    assert all(word in verdict.reason for word in ("InvalidURI", "sinks.archive.endpoint_url", "proxy", "sinks.archive.checksum"))


def test_no_secret_reaches_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in the environment never appear in any reason."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    outcomes = [answer(403, "SignatureDoesNotMatch", "The request signature we calculated does not match"),
                failed("credentials", "PartialCredentialsError", "Partial credentials found in env")]
    assert all(secret not in _verdict(o).reason for o in outcomes)


@pytest.mark.parametrize(
    ("head", "kind", "needle"),
    [
        (Attempt.http(200, None, {"x-amz-meta-authlog-batch": "ours"}), "duplicate", "already holds this batch"),
        (Attempt.http(200, None, {"x-amz-meta-authlog-batch": "theirs"}), "sink_error", "sinks.archive.prefix"),
        (Attempt.http(200), "sink_error", "tag none"),
        (answer(403, "403"), "sink_error", "grant s3:GetObject"),
        (answer(404, "404"), "retry", "gone now"),
        (answer(503, "503"), "retry", "503"),
        (failed("connection", "EndpointConnectionError", "refused"), "retry", "cannot reach"),
        (failed("credentials", "NoCredentialsError", "none"), "sink_error", "credentials"),
    ],
)
def test_a_412_is_checked_against_the_batch_tag(head: Attempt, kind: str, needle: str) -> None:
    """Only our own batch at the key is a duplicate; another writer's batch keeps the events (sink_error)."""
    from adapters.s3.classify import classify_existing

    verdict = classify_existing(head, "ours", s3_config(prefix="authlog/"), "archive", KEY, FIXED)
    assert verdict.kind == kind and needle in verdict.reason, verdict
