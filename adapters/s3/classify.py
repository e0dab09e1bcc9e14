"""Classify one ``PutObject`` outcome into a :class:`~adapters.contract.Verdict` (pure).

=====================================================  ==============================
S3 answer or failure                                   verdict
=====================================================  ==============================
200 with an ETag (PutObject's documented success)      delivered
any other 2xx (200 without ETag, 204, 201...)          sink_error: not S3 (a proxy, a portal):
                                                       the batch is kept; a resend that finds
                                                       the object is a 412 -> duplicate
412 PreconditionFailed (``IfNoneMatch="*"``)           duplicate: the object is there
  ... then HeadObject: the same batch tag            duplicate
  ... a different (or no) batch tag                  sink_error: a key collision
  ... 403 (no s3:GetObject)                          sink_error: cannot verify, events kept
500, 502, 503 SlowDown, 504, 408, 429,                 retry (``Retry-After`` honoured)
  409 ConditionalRequestConflict / OperationAborted,
  400 RequestTimeout, IncompleteBody, BadDigest;
  connection errors
400 EntityTooLarge                                     split
400 KeyTooLongError, MetadataTooLarge (ITEM_CODES)     reject: to the DLQ
404 NoSuchBucket, 403 AccessDenied, refused or         sink_error: keep the events, say
  missing credentials, wrong region, KMS errors,       what to fix (bucket, region,
  InvalidStorageClass, 501 NotImplemented...           permissions: s3:PutObject)
any other 3xx/4xx (InvalidURI, InvalidDigest, a        sink_error: S3 never inspects the
  proxy's HTML 400, 409 InvalidBucketState...)         events, so it is the setup (endpoint,
                                                       proxy, store, checksum)
=====================================================  ==============================
"""

from __future__ import annotations

from adapters.contract import Verdict
from adapters.quoting import folded
from adapters.s3.config import S3Config
from adapters.s3.transport import BATCH_TAG, PutOutcome
from shippers.retry_after import parse_retry_after

# Why: S3's documented transient answers (CONTRACTS.md); RequestTimeout/IncompleteBody/BadDigest
# are 400s about a body that arrived slow or damaged, so sending it again fixes them. A 409 is
# transient only as ConditionalRequestConflict / OperationAborted (codes below); other 409s
# (InvalidBucketState...) are about the bucket and never clear by themselves.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_CODES = frozenset({
    "SlowDown", "ServiceUnavailable", "InternalError", "ConditionalRequestConflict", "OperationAborted",
    "RequestTimeout", "IncompleteBody", "BadDigest", "XAmzContentSHA256Mismatch", "TooManyRequests",
})
CREDENTIAL_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
    "InvalidSecurity", "MissingSecurityHeader",
})
REGION_CODES = frozenset({"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed",
                          "IllegalLocationConstraintException"})
PERMISSION_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "InvalidPayer"})
# Why: 400s caused by the sink's settings, not by the batch: dead-lettering would lose a stream.
SETTING_CODES = frozenset({"InvalidStorageClass", "InvalidBucketName", "InvalidArgument", "InvalidRequest",
                           "InvalidEncryptionAlgorithmError", "NotImplemented", "MethodNotAllowed"})
# Why: S3 never inspects an object's content, so only these 4xx codes are caused by the batch
# itself (its key, derived from the partition; its metadata); every other 4xx is the sink's
# setup (endpoint, proxy, store, checksum) and dead-lettering would lose the whole stream.
ITEM_CODES = frozenset({"KeyTooLongError", "MetadataTooLarge"})
# Why: a reason is shown in status and logs; S3's messages are short, an HTML error page is not.
MAX_MESSAGE_CHARS = 300
# Why: S3's error codes are one word (AccessDenied); a store that sends more is quoted this far.
MAX_CODE_CHARS = 64
# Why: the PutObject reference: success is "HTTP/1.1 200" with the object's ETag header.
PUT_OK_STATUS = 200




def _short(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return folded(text, limit)


def classify(outcome: PutOutcome, config: S3Config, sink: str, key: str, now: float) -> Verdict:
    """The verdict on one attempt at writing ``key`` for sink ``sink``."""
    where = f"sinks.{sink}"
    target = f"s3://{config.bucket}/{key}"
    region = config.region or "boto3's default region"

    if outcome.kind != "answer":
        detail = _short(outcome.message)
        if outcome.kind in ("connection", "timeout"):
            return Verdict.retry(f"cannot reach S3 ({outcome.code}: {detail})")
        if outcome.kind == "credentials":
            return Verdict.sink_error(
                f"no usable AWS credentials ({outcome.code}: {detail}); set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role that may s3:PutObject"
            )
        if outcome.kind == "tls":
            return Verdict.sink_error(
                f"TLS to S3 failed ({detail}); check {where}.endpoint_url and the CA bundle (AWS_CA_BUNDLE)"
            )
        return Verdict.sink_error(f"the S3 client refused the request ({outcome.code}: {detail}); check {where}")

    status = outcome.status or 0
    code = outcome.code
    said = f"S3 answered {status} {_short(code, MAX_CODE_CHARS)}: {_short(outcome.message)}".rstrip(": ")
    if 200 <= status < 300:
        if status == PUT_OK_STATUS and outcome.headers.get("etag"):
            return Verdict.delivered()
        what = f"HTTP {status} without an ETag" if status == PUT_OK_STATUS else f"HTTP {status}"
        return Verdict.sink_error(
            f"the endpoint answered {what} to PutObject {target}, which is not how S3 acknowledges a write "
            f"(HTTP 200 with an ETag); the batch is kept; check {where}.endpoint_url and any proxy in front of it"
        )
    if status == 412:
        return Verdict.duplicate(f"{target} already exists (If-None-Match)")
    if code == "NotImplemented" or status == 501:
        return Verdict.sink_error(
            f"{said}; this store lacks a feature the sink uses (conditional writes with If-None-Match, "
            f"sse, checksum or storage_class): check {where}"
        )
    if code in RETRY_CODES or status in RETRY_STATUSES or status >= 500:
        return Verdict.retry(said, parse_retry_after(outcome.headers.get("retry-after"), now, outcome.headers.get("date")))
    if code == "EntityTooLarge":
        return Verdict.split(said)
    if code == "NoSuchBucket":
        return Verdict.sink_error(
            f"bucket '{config.bucket}' does not exist in {region}; create it, or fix {where}.bucket / {where}.region"
        )
    if code in CREDENTIAL_CODES:
        return Verdict.sink_error(
            f"{said}; the AWS credentials were refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "the profile or the role, and the host clock"
        )
    if code == "RequestTimeTooSkewed":
        return Verdict.sink_error(f"{said}; the host clock is more than 15 minutes off: sync it (NTP)")
    if code in REGION_CODES or 300 <= status < 400:
        actual = outcome.headers.get("x-amz-bucket-region")
        hint = f"set {where}.region = \"{actual}\"" if actual else f"set {where}.region to the bucket's region"
        return Verdict.sink_error(f"bucket '{config.bucket}' is not in {region}: {hint}")
    if code.startswith("KMS.") or "kms" in outcome.message.lower():
        return Verdict.sink_error(
            f"{said}; check {where}.kms_key_id and that the shipper may kms:GenerateDataKey with that key"
        )
    if code in PERMISSION_CODES or status == 403:
        return Verdict.sink_error(
            f"access denied writing {target} ({_short(code, MAX_CODE_CHARS) or status}); grant the shipper's AWS identity "
            f"s3:PutObject on arn:aws:s3:::{config.bucket}/{config.prefix}* and check {where}.bucket / region"
        )
    if code in SETTING_CODES:
        return Verdict.sink_error(f"{said}; check {where} (sse, kms_key_id, storage_class, checksum, endpoint_url)")
    if code in ITEM_CODES:
        return Verdict.reject(f"S3 refused this batch ({target}): {said}")
    return Verdict.sink_error(
        f"{said}; S3 does not read the events, so this is the sink's setup: check {where}.endpoint_url and any "
        f"proxy in front of it, that the store is S3-compatible (force_path_style), {where}.checksum "
        f"(\"none\" if the store rejects checksum headers), and bucket, region, permissions (s3:PutObject)"
    )


def classify_existing(head: PutOutcome, expected_tag: str, config: S3Config, sink: str, key: str, now: float) -> Verdict:
    """After a 412: is the object at ``key`` this batch (a duplicate) or another writer's (a collision)?

    Keys hold buffer sequence numbers, which restart at 1 in a new buffer: two shippers with
    their own buffers (one sidecar per pod) writing the same prefix, or a buffer that was
    deleted and recreated, produce the same keys for different events. Acknowledging those as
    duplicates would lose them silently, so a foreign tag is a sink_error that keeps them.
    """
    target = f"s3://{config.bucket}/{key}"
    where = f"sinks.{sink}"
    if head.ok:
        found = head.metadata.get(BATCH_TAG)
        if found == expected_tag:
            return Verdict.duplicate(f"{target} already holds this batch (If-None-Match)")
        return Verdict.sink_error(
            f"{target} already holds a different batch (tag {found or 'none'}, ours {expected_tag}): another "
            f"shipper with its own buffer writes the same keys, or the buffer was recreated. Give every shipper "
            f"instance its own {where}.prefix (e.g. \"authlog/${{HOSTNAME}}/\"); the events are kept"
        )
    if head.kind == "answer" and head.status == 403:  # acking unverified could drop another writer's events
        return Verdict.sink_error(
            f"{target} already exists and HeadObject was denied (403): grant s3:GetObject on "
            f"arn:aws:s3:::{config.bucket}/{config.prefix}* so the sink can verify an existing object is its "
            f"own batch; the events are kept"
        )
    if head.kind == "answer" and head.status == 404:
        return Verdict.retry(f"{target} answered 412 but is gone now; writing it again")
    verdict = classify(head, config, sink, key, now)
    if verdict.kind in ("delivered", "duplicate", "reject", "split"):  # cannot happen for a failed HEAD
        return Verdict.retry(f"cannot check {target} after a 412 ({head.status} {_short(head.code, MAX_CODE_CHARS)})")
    return verdict
