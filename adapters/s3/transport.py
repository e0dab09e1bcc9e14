"""One ``PutObject`` attempt with boto3; every SDK answer or exception becomes a :class:`PutOutcome`.

The SDK's own retries are off (``max_attempts = 1``): the core retries, with backoff and
``Retry-After``. Exceptions are translated here, at the edge, so :mod:`adapters.s3.classify`
stays a pure table over plain data::

    BotoCoreError / ClientError ─┬─ ClientError (an HTTP answer)        -> kind "answer", status, code
                                 ├─ NoCredentialsError & co, ProfileNotFound -> kind "credentials"
                                 ├─ SSLError                             -> kind "tls"
                                 ├─ ConnectTimeoutError, ReadTimeoutError -> kind "timeout"
                                 ├─ ConnectionError, HTTPClientError     -> kind "connection"
                                 └─ anything else botocore raises        -> kind "client"

A PutObject answer keeps its status and headers: only ``200`` with an ``ETag`` is S3's
documented success (the classifier checks), and botocore parses any 2xx (an HTML page from a
proxy, a 204) into an empty, successful-looking response.

The object is written with ``IfNoneMatch="*"``: when the key already exists S3 answers
412 and writes nothing. Each object carries its batch tag (``x-amz-meta-authlog-batch``, a
digest of the batch's event ids), so after a 412 one ``HeadObject`` tells "this very batch
is already there" (a duplicate) from "another writer's batch holds this key" (a collision).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore import exceptions as boto_errors
from botocore.client import BaseClient
from botocore.config import Config as BotoConfig

from adapters.s3.config import S3Config
from adapters.s3.encoder import CONTENT_ENCODING, CONTENT_TYPE
from adapters.s3.mapping import PRODUCT_NAME, PRODUCT_VERSION

# The user-metadata key (x-amz-meta-authlog-batch) holding the batch tag of an object.
BATCH_TAG = "authlog-batch"

OutcomeKind = Literal["answer", "credentials", "tls", "timeout", "connection", "client"]

# Why: a TCP connect to S3 takes milliseconds; 10 s means the network or endpoint is wrong.
CONNECT_TIMEOUT_SECONDS = 10.0
# Why: botocore's default; a 100 MiB PUT on a slow uplink needs the headroom.
READ_TIMEOUT_SECONDS = 60.0
# Why: one attempt per call: the core owns retries (CONTRACTS.md). botocore's ``max_attempts``
# counts *retries* (``max_attempts: 1`` still retries once); ``total_max_attempts`` counts the
# first try too, so 1 means exactly one HTTP request (tests/adapters/s3 prove it).
SDK_RETRIES = {"total_max_attempts": 1, "mode": "standard"}
# Why: a sink may run several requests at once (`concurrency`); urllib3 discards (and warns
# about) connections beyond the pool, botocore's default of 10 is below what some sinks use.
MAX_POOL_CONNECTIONS = 50

_CREDENTIAL_ERRORS: tuple[type[Exception], ...] = (
    boto_errors.NoCredentialsError,
    boto_errors.PartialCredentialsError,
    boto_errors.CredentialRetrievalError,
    boto_errors.ProfileNotFound,
    boto_errors.TokenRetrievalError,
    boto_errors.SSOError,
)


@dataclass(frozen=True, slots=True)
class PutOutcome:
    """What one S3 request (a PutObject, or the HeadObject that checks a 412) came to, as plain data."""

    kind: OutcomeKind
    status: int | None = None  # the HTTP status when S3 answered
    code: str = ""  # S3's error code (SlowDown, NoSuchBucket...) or the exception's class name
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case response headers
    metadata: Mapping[str, str] = field(default_factory=dict)  # the object's user metadata (HeadObject)

    @property
    def ok(self) -> bool:
        return self.kind == "answer" and self.status is not None and 200 <= self.status < 300


def client_config(config: S3Config) -> BotoConfig:
    """The botocore settings of our client: no SDK retries, bounded waits, the chosen addressing and checksum."""
    agent = f"{PRODUCT_NAME}/{PRODUCT_VERSION or 'dev'}"
    return BotoConfig(
        retries=SDK_RETRIES,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        s3={"addressing_style": "path"} if config.force_path_style else None,
        request_checksum_calculation="when_required" if config.checksum == "none" else "when_supported",
        user_agent_extra=agent,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def put_arguments(config: S3Config, key: str, body: bytes, batch_tag: str) -> dict[str, Any]:
    """The ``put_object`` arguments for one object (pure, so tests can read them)."""
    args: dict[str, Any] = {
        "Bucket": config.bucket,
        "Key": key,
        "Body": body,
        "ContentType": CONTENT_TYPE,
        "ContentEncoding": CONTENT_ENCODING,
        "IfNoneMatch": "*",
        "Metadata": {BATCH_TAG: batch_tag},
    }
    if config.sse is not None:
        args["ServerSideEncryption"] = config.sse
    if config.kms_key_id is not None:
        args["SSEKMSKeyId"] = config.kms_key_id
    if config.storage_class is not None:
        args["StorageClass"] = config.storage_class
    if config.checksum != "none":
        args["ChecksumAlgorithm"] = config.checksum
    return args


def translate(exc: Exception) -> PutOutcome:
    """Map a botocore exception to a :class:`PutOutcome` (the most specific kind first)."""
    name = type(exc).__name__
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        return PutOutcome(
            kind="answer",
            status=meta.get("HTTPStatusCode"),
            code=str(error.get("Code", "")),
            message=str(error.get("Message", "")),
            headers={k.lower(): str(v) for k, v in meta.get("HTTPHeaders", {}).items()},
        )
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return PutOutcome(kind="credentials", code=name, message=str(exc))
    if isinstance(exc, boto_errors.SSLError):
        return PutOutcome(kind="tls", code=name, message=str(exc))
    if isinstance(exc, (boto_errors.ConnectTimeoutError, boto_errors.ReadTimeoutError)):
        return PutOutcome(kind="timeout", code=name, message=str(exc))
    if isinstance(exc, (boto_errors.ConnectionError, boto_errors.HTTPClientError)):
        return PutOutcome(kind="connection", code=name, message=str(exc))
    return PutOutcome(kind="client", code=name, message=str(exc))


# S3's codes for credentials that have expired. botocore judges a refreshable credential's age on
# the wall clock, so after the wall clock steps back it may keep presenting one S3 calls expired
# until the clock catches up: on these the client is dropped and the next attempt resolves the
# credentials afresh (the role, the instance profile, the environment).
EXPIRED_CREDENTIAL_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired"})


class S3Transport:
    """Owns one boto3 S3 client (created on first use; clients are thread-safe once built)."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self._client: BaseClient | None = None
        self._lock = threading.Lock()

    def _get_client(self) -> BaseClient:
        with self._lock:
            if self._client is None:
                session = boto3.session.Session()
                self._client = session.client(
                    "s3",
                    region_name=self.config.region,
                    endpoint_url=self.config.endpoint_url,
                    config=client_config(self.config),
                )
            return self._client

    def put(self, key: str, body: bytes, batch_tag: str) -> PutOutcome:
        """Exactly one ``PutObject`` attempt; never raises for an SDK error."""
        try:
            response = self._get_client().put_object(**put_arguments(self.config, key, body, batch_tag))
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            return self._failed(exc)
        meta = response.get("ResponseMetadata", {})
        headers = {str(k).lower(): str(v) for k, v in meta.get("HTTPHeaders", {}).items()}
        return PutOutcome(kind="answer", status=meta.get("HTTPStatusCode", 0), headers=headers)

    def head(self, key: str) -> PutOutcome:
        """One ``HeadObject``: the existing object's user metadata (needs s3:GetObject)."""
        try:
            response = self._get_client().head_object(Bucket=self.config.bucket, Key=key)
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            return self._failed(exc)
        meta = response.get("ResponseMetadata", {})
        metadata = {str(k).lower(): str(v) for k, v in response.get("Metadata", {}).items()}
        return PutOutcome(kind="answer", status=meta.get("HTTPStatusCode", 200), metadata=metadata)

    def _failed(self, exc: Exception) -> PutOutcome:
        outcome = translate(exc)
        if outcome.code in EXPIRED_CREDENTIAL_CODES:
            with self._lock:  # the next attempt builds a client with freshly resolved credentials; not
                self._client = None  # closed here: with concurrency > 1 another send may still be using it
        return outcome

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
