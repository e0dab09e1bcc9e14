"""A local S3 for tests and ``authlog demo``: moto's S3 server on loopback, with fault injection.

    with MotoS3() as s3:                       # binds 127.0.0.1 on a free port
        s3.make_bucket("auth-logs")
        config = {"type": "s3", "bucket": "auth-logs", "endpoint_url": s3.url, "region": s3.region}
        ...
        objects = s3.read_lines("auth-logs")   # {key: [decoded line, ...]} (gunzipped)
        s3.faults.fail_next(2)                 # see shippers.testing.fake_s3_faults

The server is moto's own WSGI app (what ``moto_server`` runs, a real S3 HTTP API) behind
:class:`~shippers.testing.fake_s3_faults.S3Faults`. moto keeps its state per *process*:
two ``MotoS3`` in one process share buckets, and :meth:`MotoS3.reset` empties them all.
moto does not check signatures, so any credentials work; the shipper under test still needs
*some* (boto3's chain): export :data:`CREDENTIALS` (``AWS_ACCESS_KEY_ID=testing``...).
Needs the ``demo`` extra (``moto[server]``).
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import urllib.request
from typing import Any, Self

import boto3
from botocore.config import Config as BotoConfig

from shippers.testing.fake_s3_faults import S3Faults
from shippers.testing.fake_server import LOOPBACK, START_TIMEOUT_SECONDS

# Why: moto accepts any credentials; these keep boto3 from probing a metadata server.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class MotoS3:
    """moto's S3 served from a daemon thread; ``url`` is its endpoint."""

    def __init__(self, host: str = LOOPBACK, port: int = 0, region: str = "us-east-1") -> None:
        self.host = host
        self.port = port
        self.region = region
        self.faults: S3Faults | None = None
        self._server: Any = None
        self._client: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        # Imported here: moto is the demo extra, not a runtime dependency.
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self.faults = S3Faults(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, self.faults, threaded=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="MotoS3", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_SECONDS)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- helpers for tests ---------------------------------------------------
    def client(self) -> Any:
        """A boto3 S3 client for this server (test credentials, no retries), made once."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),  # exactly one try
        )

    def make_bucket(self, name: str) -> None:
        """Create ``name`` (idempotent)."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under ``prefix``, sorted."""
        paginator = self.client().get_paginator("list_objects_v2")
        found: list[str] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found += [item["Key"] for item in page.get("Contents", [])]
        return sorted(found)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object's stored bytes (still gzipped when written gzipped), by key."""
        client = self.client()
        return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in self.keys(bucket, prefix)}

    def read_lines(self, bucket: str, prefix: str = "") -> dict[str, list[dict[str, Any]]]:
        """Every gzip NDJSON object's lines, decoded, by key."""
        out: dict[str, list[dict[str, Any]]] = {}
        for key, data in self.objects(bucket, prefix).items():
            text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            out[key] = [json.loads(line) for line in text.splitlines() if line.strip()]
        return out

    def reset(self) -> None:
        """Empty moto (every bucket of this process) and drop queued faults."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=START_TIMEOUT_SECONDS):
            pass
        if self.faults is not None:
            self.faults.clear()
