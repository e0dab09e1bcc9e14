"""S3's own part of classifying one ``PutObject`` (or checking ``HeadObject``) attempt (pure).

The common classifier (:mod:`shippers.delivery.classify`) owns the generic part: failures
without an answer (connection errors and timeouts retry; TLS, missing credentials and a request
the client refuses are sink_errors), redirects, 408/429/5xx with Retry-After, 401/403, other
4xx. This module adds what only S3 means, by its error codes first:

=====================================================  ==============================
S3 answer                                              verdict
=====================================================  ==============================
200 with an ETag (PutObject's documented success)      delivered
any other 2xx (200 without ETag, 204, 201...)          sink_error: not S3 (a proxy, a portal):
                                                       the batch is kept; a resend that finds
                                                       the object is a 412 -> duplicate
412 PreconditionFailed (``IfNoneMatch="*"``)           duplicate: the object is there
  ... then HeadObject: the same batch tag            duplicate
  ... a different (or no) batch tag                  sink_error: a key collision
  ... 403 (no s3:GetObject)                          sink_error: cannot verify, events kept
501 NotImplemented                                     sink_error: the store lacks a feature
SlowDown, InternalError, 409 ConditionalRequest-       retry (``Retry-After`` honoured by the core)
  Conflict / OperationAborted, 400 RequestTimeout,
  IncompleteBody, BadDigest (RETRY_CODES)
400 EntityTooLarge                                     split
400 KeyTooLongError, MetadataTooLarge (ITEM_CODES)     reject: to the DLQ
NoSuchBucket, AccessDenied, refused credentials,       sink_error: keep the events, say
  wrong region (PermanentRedirect, the bucket's        what to fix (bucket, region,
  region header), KMS errors, InvalidStorageClass...   permissions: s3:PutObject)
any other 4xx (InvalidURI, InvalidDigest, a            sink_error: S3 never inspects the
  proxy's HTML 400, 409 InvalidBucketState...)         events, so it is the setup (endpoint,
                                                       proxy, store, checksum)
=====================================================  ==============================

The transport hands S3's parsed error on as the body: ``{"Code": ..., "Message": ...}``.
"""

from __future__ import annotations

from adapters.contract import Verdict
from adapters.s3.config import S3Config
from adapters.s3.transport import BATCH_TAG_HEADER
from shippers.delivery.attempt import Attempt
from shippers.delivery.classify import Hints, VendorRules, is_retryable
from shippers.delivery.classify import classify as classify_attempt
from shippers.quoting import folded

# Why: S3's documented transient answers (CONTRACTS.md); RequestTimeout/IncompleteBody/BadDigest
# are 400s about a body that arrived slow or damaged, so sending it again fixes them. A 409 is
# transient only as ConditionalRequestConflict / OperationAborted (other 409s, InvalidBucketState...,
# are about the bucket and never clear by themselves).
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
# Why: HeadObject's success; its 403 / 404 say "not yours to read" / "not there" after a 412.
HEAD_OK_STATUS = 200
HEAD_DENIED_STATUS = 403
HEAD_MISSING_STATUS = 404
# Why: the answer to If-None-Match: * when the key exists; nothing was written.
EXISTS_STATUS = 412
# Why: S3's "A header you provided implies functionality that is not implemented" (a store without
# conditional writes, sse or checksums); it is a 5xx that never clears by itself.
NOT_IMPLEMENTED_STATUS = 501
# S3's header naming the region a bucket is in (on redirects and region errors).
BUCKET_REGION_HEADER = "x-amz-bucket-region"


def _short(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return folded(text, limit)


def error_code(answer: Attempt) -> str:
    """S3's error code of an answer (SlowDown, NoSuchBucket...), "" when it has none."""
    body = answer.body
    return str(body.get("Code") or "") if isinstance(body, dict) else ""


def _message(answer: Attempt) -> str:
    body = answer.body
    return str(body.get("Message") or "") if isinstance(body, dict) else ""


class S3Rules(VendorRules):
    """One PutObject of ``key`` for sink ``sink`` into the configured bucket."""

    destination = "S3"

    def __init__(self, config: S3Config, sink: str, key: str) -> None:
        self.config = config
        self.where = where = f"sinks.{sink}"
        self.target = f"s3://{config.bucket}/{key}"
        self.region = config.region or "boto3's default region"
        self.hints = Hints(
            credentials=(
                "the AWS credentials were refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile or "
                "the role, and the host clock"
            ),
            privileges=self._grant(),
            endpoint=(
                f"S3 does not read the events, so this is the sink's setup: check {where}.endpoint_url and any "
                f"proxy in front of it, that the store is S3-compatible (force_path_style), {where}.checksum "
                f"(\"none\" if the store rejects checksum headers), and bucket, region, permissions (s3:PutObject)"
            ),
            tls=f"check {where}.endpoint_url and the CA bundle (AWS_CA_BUNDLE)",
            request=f"check {where}",
            missing_credentials=(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role that may s3:PutObject"
            ),
            too_large="S3's object size limit",
        )

    def _grant(self) -> str:
        return (
            f"grant the shipper's AWS identity s3:PutObject on arn:aws:s3:::{self.config.bucket}/{self.config.prefix}* "
            f"and check {self.where}.bucket / region"
        )

    def said(self, answer: Attempt) -> str:
        code, message = _short(error_code(answer), MAX_CODE_CHARS), _short(_message(answer))
        return " ".join(part for part in (str(answer.status), code) if part) + (f": {message}" if message else "")

    def success(self, answer: Attempt, items: int) -> Verdict:
        status = answer.status
        if status == PUT_OK_STATUS and answer.headers.get("etag"):
            return Verdict.delivered()
        what = f"HTTP {status} without an ETag" if status == PUT_OK_STATUS else f"HTTP {status}"
        return Verdict.sink_error(
            f"the endpoint answered {what} to PutObject {self.target}, which is not how S3 acknowledges a write "
            f"(HTTP 200 with an ETag); the batch is kept; check {self.where}.endpoint_url and any proxy in front of it"
        )

    def own(self, answer: Attempt, items: int) -> Verdict | None:
        status, code, where = answer.status, error_code(answer), self.where
        if status == EXISTS_STATUS:
            return Verdict.duplicate(f"{self.target} already exists (If-None-Match)")
        said = f"S3 answered {self.said(answer)}"
        if code == "NotImplemented" or status == NOT_IMPLEMENTED_STATUS:
            return Verdict.sink_error(
                f"{said}; this store lacks a feature the sink uses (conditional writes with If-None-Match, "
                f"sse, checksum or storage_class): check {where}"
            )
        if code in RETRY_CODES:
            return Verdict.retry(said)
        if not code or is_retryable(status):  # no code of S3's own: the status classes decide
            return None
        return self._by_code(code, said, answer)

    def _by_code(self, code: str, said: str, answer: Attempt) -> Verdict | None:
        where = self.where
        if code == "EntityTooLarge":
            return Verdict.split(said)
        if code == "NoSuchBucket":
            return Verdict.sink_error(
                f"bucket '{self.config.bucket}' does not exist in {self.region}; create it, or fix {where}.bucket / "
                f"{where}.region"
            )
        if code in CREDENTIAL_CODES:
            return Verdict.sink_error(f"{said}; {self.hints.credentials}")
        if code == "RequestTimeTooSkewed":
            return Verdict.sink_error(f"{said}; the host clock is more than 15 minutes off: sync it (NTP)")
        if code in REGION_CODES or BUCKET_REGION_HEADER in answer.headers:
            actual = answer.headers.get(BUCKET_REGION_HEADER)
            hint = f"set {where}.region = \"{actual}\"" if actual else f"set {where}.region to the bucket's region"
            return Verdict.sink_error(f"bucket '{self.config.bucket}' is not in {self.region}: {hint}")
        if code.startswith("KMS.") or "kms" in _message(answer).lower():
            return Verdict.sink_error(
                f"{said}; check {where}.kms_key_id and that the shipper may kms:GenerateDataKey with that key"
            )
        if code in PERMISSION_CODES:
            return Verdict.sink_error(
                f"access denied writing {self.target} ({_short(code, MAX_CODE_CHARS)}); {self._grant()}"
            )
        if code in SETTING_CODES:
            return Verdict.sink_error(f"{said}; check {where} (sse, kms_key_id, storage_class, checksum, endpoint_url)")
        if code in ITEM_CODES:
            return Verdict.reject(f"S3 refused this batch ({self.target}): {said}")
        return None


def classify(answer: Attempt, config: S3Config, sink: str, key: str, now: float) -> Verdict:
    """The verdict on one attempt at writing ``key`` for sink ``sink``."""
    return classify_attempt(answer, S3Rules(config, sink, key), 1, now)


def holds_object(head: Attempt) -> bool:
    """True when a HeadObject found the object."""
    return head.answered and head.status == HEAD_OK_STATUS


def classify_existing(head: Attempt, expected_tag: str, config: S3Config, sink: str, key: str, now: float) -> Verdict:
    """After a 412: is the object at ``key`` this batch (a duplicate) or another writer's (a collision)?

    Keys hold buffer sequence numbers, which restart at 1 in a new buffer: two shippers with
    their own buffers (one sidecar per pod) writing the same prefix, or a buffer that was
    deleted and recreated, produce the same keys for different events. Acknowledging those as
    duplicates would lose them silently, so a foreign tag is a sink_error that keeps them.
    """
    target = f"s3://{config.bucket}/{key}"
    where = f"sinks.{sink}"
    if holds_object(head):
        found = head.headers.get(BATCH_TAG_HEADER)
        if found == expected_tag:
            return Verdict.duplicate(f"{target} already holds this batch (If-None-Match)")
        return Verdict.sink_error(
            f"{target} already holds a different batch (tag {found or 'none'}, ours {expected_tag}): another "
            f"shipper with its own buffer writes the same keys, or the buffer was recreated. Give every shipper "
            f"instance its own {where}.prefix (e.g. \"authlog/${{HOSTNAME}}/\"); the events are kept"
        )
    if head.answered and head.status == HEAD_DENIED_STATUS:  # acking unverified could drop another writer's events
        return Verdict.sink_error(
            f"{target} already exists and HeadObject was denied (403): grant s3:GetObject on "
            f"arn:aws:s3:::{config.bucket}/{config.prefix}* so the sink can verify an existing object is its "
            f"own batch; the events are kept"
        )
    if head.answered and head.status == HEAD_MISSING_STATUS:
        return Verdict.retry(f"{target} answered 412 but is gone now; writing it again")
    verdict = classify(head, config, sink, key, now)
    if verdict.kind in ("delivered", "duplicate", "reject", "split"):  # cannot happen for a failed HEAD
        return Verdict.retry(f"cannot check {target} after a 412 ({head.status} {_short(error_code(head), MAX_CODE_CHARS)})")
    return verdict
