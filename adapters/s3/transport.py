"""One ``PutObject`` attempt with boto3; every SDK answer or exception becomes the core's :class:`Attempt`.

The SDK's own retries are off (``max_attempts = 1``): the core retries, with backoff and
``Retry-After``. The core's per-attempt timeout is the read timeout (the connect timeout is
the smaller of it and CONNECT_TIMEOUT_SECONDS). Exceptions are translated here, at the edge,
so :mod:`adapters.s3.classify` stays a pure table over plain data::

    BotoCoreError / ClientError ─┬─ ClientError (an HTTP answer)        -> Attempt.http(status, {"Code", "Message"}, headers)
                                 ├─ NoCredentialsError & co, ProfileNotFound -> failure "credentials"
                                 ├─ SSLError                             -> failure "tls"
                                 ├─ ConnectTimeoutError, ReadTimeoutError -> failure "timeout"
                                 ├─ ConnectionError, HTTPClientError     -> failure "connection"
                                 └─ anything else botocore raises        -> failure "request"

A PutObject answer keeps its status and headers: only ``200`` with an ``ETag`` is S3's
documented success (the classifier checks), and botocore parses any 2xx (an HTML page from a
proxy, a 204) into an empty, successful-looking response.

The object is written with ``IfNoneMatch="*"``: when the key already exists S3 answers
412 and writes nothing. Each object carries its batch tag (``x-amz-meta-authlog-batch``, a
digest of the batch's event ids), so after a 412 one ``HeadObject`` tells "this very batch
is already there" (a duplicate) from "another writer's batch holds this key" (a collision);
its Attempt carries the object's user metadata as the ``x-amz-meta-*`` headers they travel in.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore import exceptions as boto_errors
from botocore.client import BaseClient
from botocore.config import Config as BotoConfig

from adapters.s3.config import PARQUET, S3Config
from adapters.s3.encoder import CONTENT_ENCODING, CONTENT_TYPE, PARQUET_CONTENT_TYPE
from adapters.s3.mapping import PRODUCT_NAME, PRODUCT_VERSION
from shippers.delivery.attempt import Attempt

# The user-metadata key (x-amz-meta-authlog-batch) holding the batch tag of an object.
BATCH_TAG = "authlog-batch"
USER_METADATA_PREFIX = "x-amz-meta-"
BATCH_TAG_HEADER = USER_METADATA_PREFIX + BATCH_TAG

# Why: a TCP connect to S3 takes milliseconds; 10 s means the network or endpoint is wrong.
CONNECT_TIMEOUT_SECONDS = 10.0
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


def client_config(config: S3Config, timeout: float) -> BotoConfig:
    """The botocore settings of our client: no SDK retries, the core's attempt timeout, the chosen addressing and checksum."""
    agent = f"{PRODUCT_NAME}/{PRODUCT_VERSION or 'dev'}"
    return BotoConfig(
        retries=SDK_RETRIES,
        connect_timeout=min(CONNECT_TIMEOUT_SECONDS, timeout),
        read_timeout=timeout,
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
        "IfNoneMatch": "*",
        "Metadata": {BATCH_TAG: batch_tag},
    }
    if config.format == PARQUET:
        args["ContentType"] = PARQUET_CONTENT_TYPE  # compressed inside the file: no Content-Encoding
    else:
        args["ContentType"] = CONTENT_TYPE
        args["ContentEncoding"] = CONTENT_ENCODING
    if config.sse is not None:
        args["ServerSideEncryption"] = config.sse
    if config.kms_key_id is not None:
        args["SSEKMSKeyId"] = config.kms_key_id
    if config.storage_class is not None:
        args["StorageClass"] = config.storage_class
    if config.checksum != "none":
        args["ChecksumAlgorithm"] = config.checksum
    return args


def translate(exc: Exception) -> Attempt:
    """Map a botocore exception to an :class:`Attempt` (the most specific kind first)."""
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        body = {"Code": str(error.get("Code", "")), "Message": str(error.get("Message", ""))}
        return Attempt.http(meta.get("HTTPStatusCode") or 0, body, meta.get("HTTPHeaders") or {})
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return Attempt.failed("credentials", detail)
    if isinstance(exc, boto_errors.SSLError):
        return Attempt.failed("tls", detail)
    if isinstance(exc, (boto_errors.ConnectTimeoutError, boto_errors.ReadTimeoutError)):
        return Attempt.failed("timeout", detail)
    if isinstance(exc, (boto_errors.ConnectionError, boto_errors.HTTPClientError)):
        return Attempt.failed("connection", detail)
    return Attempt.failed("request", detail)


# S3's codes for credentials that have expired. botocore judges a refreshable credential's age on
# the wall clock, so after the wall clock steps back it may keep presenting one S3 calls expired
# until the clock catches up: on these the client is dropped and the next attempt resolves the
# credentials afresh (the role, the instance profile, the environment).
EXPIRED_CREDENTIAL_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired"})


class S3Transport:
    """Owns one boto3 S3 client (created by :meth:`prepare` or on first use; clients are thread-safe once built)."""

    def __init__(self, config: S3Config, timeout: float) -> None:
        self.config = config
        self.timeout = timeout
        self._client: BaseClient | None = None
        self._lock = threading.Lock()

    def _get_client(self, session: boto3.session.Session | None = None) -> BaseClient:
        """The client, built from ``session`` (else a new one) when there is none yet."""
        with self._lock:
            if self._client is None:
                self._client = (session or boto3.session.Session()).client(
                    "s3",
                    region_name=self.config.region,
                    endpoint_url=self.config.endpoint_url,
                    config=client_config(self.config, self.timeout),
                )
            return self._client

    def prepare(self) -> None:
        """Build the client now, at the sink's start, not in its first send; only once credentials are found.

        A client costs ~0.1 s of CPU (botocore loads S3's model and endpoint rules); built by the
        first PutObject it was paid in the middle of a catch-up (2-3 % of the four-sink fan-out's CPU
        per 100k events). Building one resolves boto3's credential chain (which may ask the instance
        metadata or container credentials endpoint); a client built while it finds nothing would sign
        with nothing for as long as it is kept, so then none is kept (at boot the instance profile may
        not answer yet): the first PutObject resolves them again. Any error building it is left to
        that PutObject too: prepare() only moves work earlier, it never fails a start the first send would not.
        """
        try:
            session = boto3.session.Session()
            if session.get_credentials() is None:  # resolved once: the client below takes the session's
                return
            self._get_client(session)
        except Exception:  # not only botocore's: a credential_process missing its program is an OSError
            pass

    def put(self, key: str, body: bytes, batch_tag: str) -> Attempt:
        """Exactly one ``PutObject`` attempt; never raises for an SDK error."""
        try:
            response = self._get_client().put_object(**put_arguments(self.config, key, body, batch_tag))
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            return self._failed(exc)
        meta = response.get("ResponseMetadata", {})
        return Attempt.http(meta.get("HTTPStatusCode", 0), None, meta.get("HTTPHeaders") or {})

    def head(self, key: str) -> Attempt:
        """One ``HeadObject``: the existing object's user metadata as ``x-amz-meta-*`` headers (needs s3:GetObject)."""
        try:
            response = self._get_client().head_object(Bucket=self.config.bucket, Key=key)
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            return self._failed(exc)
        meta = response.get("ResponseMetadata", {})
        metadata = {USER_METADATA_PREFIX + str(k).lower(): str(v) for k, v in response.get("Metadata", {}).items()}
        return Attempt.http(meta.get("HTTPStatusCode", 200), None, metadata)

    def _failed(self, exc: Exception) -> Attempt:
        outcome = translate(exc)
        code = outcome.body.get("Code") if isinstance(outcome.body, dict) else None
        # Expired (see EXPIRED_CREDENTIAL_CODES) or none found at all: a client keeps the credentials its chain
        # resolved when it was built (none: it signs with nothing for good, though the instance profile answers now).
        if code in EXPIRED_CREDENTIAL_CODES or isinstance(exc, boto_errors.NoCredentialsError):
            with self._lock:  # the next attempt builds a client with freshly resolved credentials; not
                self._client = None  # closed here: with concurrency > 1 another send may still be using it
        return outcome

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
