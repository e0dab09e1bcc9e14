"""A fast counting S3 endpoint: path-style PutObject / HeadObject, as boto3 sees S3 answer.

Answers (CONTRACTS.md, S3; what ``adapters/s3`` calls)::

    PUT  /<bucket>                 CreateBucket: 200
    HEAD /<bucket>                 200, or 404 for a bucket not created
    PUT  /<bucket>/<key>           PutObject: 200 with ``ETag: "<md5 of the body>"`` (S3's documented
                                   success); ``If-None-Match: *`` on an existing key -> 412
                                   PreconditionFailed (nothing written, counted as refused);
                                   a missing bucket -> 404 NoSuchBucket
    HEAD /<bucket>/<key>           the object's ETag, length, Content-Type/-Encoding and
                                   ``x-amz-meta-*`` (the adapter reads its batch tag after a 412)
    GET  /<bucket>/<key>           the object's bytes
    anything else                  501 NotImplemented

Errors are S3's XML ``<Error><Code>..</Code><Message>..</Message></Error>``. A body sent with
``Content-Encoding: aws-chunked`` (boto3's streaming checksum trailer) is unwrapped first; the
object is stored as sent (gzip stays gzip: that is the object, not transport compression).

Counting: each stored object is read as NDJSON (gunzipped when it is gzip), or as Parquet when
it starts with Parquet's magic bytes; an event's id is its ``id`` (our NDJSON) or ``metadata.uid`` (OCSF). An overwrite without a precondition
replaces the old object's events. Not modelled: auth (any signature passes, as with moto),
multipart uploads, listing, versioning.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from xml.sax.saxutils import escape

import msgspec

from .http_core import Request, Response
from .process import Endpoint, start
from .tally import Counting

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"  # Why: every Parquet file starts (and ends) with these four bytes
# Why: the headers S3 returns for an object it stores from a PUT's headers.
_STORED_HEADERS = ("content-type", "content-encoding", "cache-control", "content-disposition",
                   "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
                   "x-amz-storage-class")  # fmt: skip
# Why: S3 echoes the checksum it verified, so boto3 sees the algorithm it asked for.
_CHECKSUM_PREFIX = "x-amz-checksum-"


class _Metadata(msgspec.Struct):
    uid: str | None = None


class _Line(msgspec.Struct):
    id: str | None = None
    metadata: _Metadata | None = None


_decode_lines = msgspec.json.Decoder(_Line).decode_lines


@dataclass(slots=True)
class _Object:
    body: bytes
    etag: str
    headers: dict[str, str]
    ids: list[str | None] = field(default_factory=list)
    modified: str = field(default_factory=lambda: formatdate(usegmt=True))


def _unchunk(body: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (``<hex size>[;chunk-signature=..]\\r\\n<data>\\r\\n``..., trailers)."""
    out, pos = [], 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[line_end + 2 : line_end + 2 + size])
        pos = line_end + 2 + size + 2


def event_ids(body: bytes) -> list[str | None] | None:
    """The id of each NDJSON line of an object (gunzipped first), or of each Parquet row; None when it is neither."""
    if body[:4] == _PARQUET_MAGIC:
        return _parquet_ids(body)
    try:
        data = zlib.decompress(body, wbits=31) if body[:2] == _GZIP_MAGIC else body
        return [line.id or (line.metadata.uid if line.metadata else None) for line in _decode_lines(data)]
    except (zlib.error, msgspec.DecodeError):
        return None


def _parquet_ids(body: bytes) -> list[str | None] | None:
    """``metadata.uid`` of each row of an OCSF Parquet object (format = "ocsf-parquet")."""
    import io

    import pyarrow.parquet as pq  # the `parquet` extra: only an endpoint that receives Parquet needs it

    try:
        table = pq.read_table(io.BytesIO(body), columns=["metadata"])
    except (OSError, ValueError, KeyError):
        return None
    return [row["uid"] if row else None for row in table.column("metadata").to_pylist()]


class S3App(Counting):
    """Buckets of objects by key, and the tally of the events in them."""

    def __init__(self, buckets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.initial_buckets = tuple(buckets)
        self.reset()

    def reset(self) -> None:
        """Forget every object and count; the buckets the endpoint started with are there, empty."""
        super().reset()
        self.buckets: dict[str, dict[str, _Object]] = {name: {} for name in self.initial_buckets}

    def handle(self, request: Request) -> Response:
        bucket, _, key = request.path.lstrip("/").partition("/")
        method = request.method
        if not bucket:
            return _error(501, "NotImplemented", "ListBuckets is not served by the counting endpoint")
        if not key:
            if method == "PUT":
                self.buckets.setdefault(bucket, {})
                return Response(200, headers={"Location": f"/{bucket}", **_ids()})
            if method == "HEAD":
                return Response(200 if bucket in self.buckets else 404, headers=_ids())
            return _error(501, "NotImplemented", f"{method} on a bucket is not served by the counting endpoint")
        objects = self.buckets.get(bucket)
        if objects is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
        if method == "PUT":
            return self._put(request, objects, key)
        if method in ("HEAD", "GET"):
            found = objects.get(key)
            if found is None:
                return _error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
            headers = {"ETag": found.etag, "Last-Modified": found.modified, "Accept-Ranges": "bytes",
                       **found.headers, **_ids()}  # fmt: skip
            if method == "HEAD":
                return Response(200, headers=headers, content_length=len(found.body))
            return Response(200, found.body, headers)
        return _error(501, "NotImplemented", f"{method} on an object is not served by the counting endpoint")

    def _put(self, request: Request, objects: dict[str, _Object], key: str) -> Response:
        if "x-amz-copy-source" in request.headers:
            return _error(501, "NotImplemented", "CopyObject is not served by the counting endpoint")
        if request.headers.get("if-none-match", "").strip() == "*" and key in objects:
            self.tally.refused += 1
            return _error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          Condition="If-None-Match")  # fmt: skip
        body = request.body
        encodings = [e.strip() for e in request.headers.get("content-encoding", "").split(",") if e.strip()]
        if "aws-chunked" in encodings:
            try:
                body = _unchunk(body)
            except ValueError:
                return _error(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
            encodings.remove("aws-chunked")
        headers = {name: value for name, value in request.headers.items()
                   if name in _STORED_HEADERS or name.startswith("x-amz-meta-")}  # fmt: skip
        if encodings:
            headers["content-encoding"] = ", ".join(encodings)
        else:
            headers.pop("content-encoding", None)
        ids = event_ids(body) or []
        previous = objects.get(key)
        if previous is not None:
            self.tally.removed(previous.ids)
            self.tally.objects -= 1
        stored = _Object(body, f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"', headers, ids)  # S3's ETag is an MD5
        objects[key] = stored
        self.tally.stored(ids)
        self.tally.objects += 1
        self.tally.requests += 1
        answer = {"ETag": stored.etag, **_ids()}
        answer.update({k: v for k, v in request.headers.items() if k.startswith(_CHECKSUM_PREFIX)})
        if "x-amz-server-side-encryption" in request.headers:
            answer["x-amz-server-side-encryption"] = request.headers["x-amz-server-side-encryption"]
        return Response(200, headers=answer)


def _ids() -> dict[str, str]:
    """The request ids S3 puts on every answer (boto3 reads them into ResponseMetadata)."""
    return {"x-amz-request-id": secrets.token_hex(8).upper(), "x-amz-id-2": secrets.token_urlsafe(24)}


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    """S3's XML error answer."""
    fields = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in extra.items())
    ids = _ids()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"{fields}<RequestId>{ids['x-amz-request-id']}</RequestId><HostId>{ids['x-amz-id-2']}</HostId></Error>")  # fmt: skip
    return Response(status, body.encode(), {"Content-Type": "application/xml", **ids})


def start_s3(buckets: tuple[str, ...] = (), **options: Any) -> Endpoint:
    """A counting S3 endpoint in its own process, with ``buckets`` already created."""
    return start(S3App, buckets=buckets, **options)
