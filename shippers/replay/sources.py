"""Where archive lines come from: an S3 prefix the s3 sink wrote, or a file sink's output with its rotated files.

A source lists :class:`ArchiveObject` s (key, size, and the checkpoint name that identifies it across
runs) and reads one object's bytes, gunzipped when it is gzip. Reading a whole object at once is
bounded by the sinks' own limits (an s3 object holds at most 100 MiB of lines, adapters/s3/config.py;
a file rotates at ``max_file_bytes``), enforced: an object that inflates (or an S3 object listed) past
:data:`MAX_OBJECT_LINES_BYTES` is unreadable, so a gzip bomb costs the bound at most. A whole read makes a
corrupt object fail before any of its lines is queued.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from isal import igzip

from shippers.replay.partitions import key_can_hold, partition_prefixes

GZIP_MAGIC = b"\x1f\x8b"
# Key suffixes that are no NDJSON archive (Parquet for Security Lake): the prefix is refused whole.
PARQUET_SUFFIX = ".parquet"
# Why: an s3 object holds at most 100 MiB of lines (adapters/s3/config.py HARD_LIMITS) and a file rotates at
# max_file_bytes (100 MiB by default): an object inflating past 2.5 times that is a gzip bomb or nothing we
# wrote, and inflating it whole would take the machine's memory.
MAX_OBJECT_LINES_BYTES = 256 * 1024 * 1024
# Why: the sinks write at most 1 MiB per line (their max_item_bytes); a first line longer is fingerprinted as cut.
FIRST_LINE_LIMIT = 1024 * 1024 + 1
# Why: 64 bits of SHA-256 tell apart the files one inode number has named in one folder.
FIRST_LINE_PRINT_HEX = 16
# Why: boto3 lists at most 1000 keys per page; the paginator fetches the rest.
LIST_PAGE_KEYS = 1000
# Why: past one page of partitions (about three years of days), one listing of the days the archive holds
# costs fewer requests than asking each day: a --since mistyped by centuries lists 740k prefixes otherwise.
DIRECT_LISTINGS_MAX = LIST_PAGE_KEYS


class SourceError(Exception):
    """The source cannot be read at all (bad URL, missing bucket, a Parquet prefix): the replay stops."""


class ObjectUnreadable(Exception):
    """One object cannot be read (gone, denied, corrupt gzip): reported with its key and skipped."""


@dataclass(frozen=True, slots=True)
class ArchiveObject:
    key: str  # as shown to a person (the S3 key, the file's path)
    size: int  # bytes as stored (compressed)
    checkpoint: str  # the name its progress is stored under (a file's inode and first line survive its rotation)
    growing: bool = False  # a file sink's current file: lines may be appended after a run finished it


class Source(Protocol):
    url: str

    def objects(self, since: datetime, until: datetime, tenants: frozenset[str] | None) -> list[ArchiveObject]:
        """The objects that can hold events of ``[since, until)`` (and of ``tenants``, None: every one), oldest first."""
        ...

    def read(self, obj: ArchiveObject) -> bytes: ...


def gunzipped(data: bytes, key: str) -> bytes:
    """The object's lines: gunzipped when it starts with the gzip magic, else as stored."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        with igzip.GzipFile(fileobj=io.BytesIO(data)) as inflating:
            lines = inflating.read(MAX_OBJECT_LINES_BYTES + 1)  # never more than the bound in memory
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ObjectUnreadable(f"{key}: not a readable gzip object ({type(exc).__name__}: {exc})") from None
    if len(lines) > MAX_OBJECT_LINES_BYTES:
        raise ObjectUnreadable(f"{key}: inflates past {MAX_OBJECT_LINES_BYTES // (1024 * 1024)} MiB, more than any archive "
                               "object we write (a gzip bomb?); gunzip it yourself and replay the file if it is yours")
    return lines


class S3Source:
    """``s3://BUCKET/PREFIX``: lists only the partitions that can hold the range (shippers.replay.partitions)."""

    def __init__(self, bucket: str, prefix: str, *, region: str | None = None, endpoint_url: str | None = None,
                 force_path_style: bool = False) -> None:
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.url = f"s3://{bucket}/{self.prefix}"
        self.region = region
        self.endpoint_url = endpoint_url
        self.force_path_style = force_path_style
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from adapters.sdk import importing_sdk

            with importing_sdk("s3", "s3", "boto3", "botocore"):
                import boto3
                from botocore.config import Config as BotoConfig
            style = {"addressing_style": "path"} if self.force_path_style else {}
            self._client = boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url,
                                        config=BotoConfig(s3=style, retries={"mode": "standard"}))
        return self._client

    def objects(self, since: datetime, until: datetime, tenants: frozenset[str] | None) -> list[ArchiveObject]:
        paginator = self.client().get_paginator("list_objects_v2")
        from adapters.s3.keys import tenant_value  # the partition values the s3 sink writes (client() found boto3)

        tenant_values = None if tenants is None else frozenset(tenant_value(t) for t in tenants)
        found: dict[str, ArchiveObject] = {}
        partitions = partition_prefixes(since, until)
        if len(partitions) > DIRECT_LISTINGS_MAX:
            days = self._days(paginator)
            partitions = [p for p in partitions if p.partition("/")[0] in days]
        for partition in partitions:
            try:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + partition,
                                               PaginationConfig={"PageSize": LIST_PAGE_KEYS}):
                    for item in page.get("Contents", []):
                        key = item["Key"]
                        if key.endswith(PARQUET_SUFFIX):
                            raise SourceError(f"{self.url} holds Parquet objects ({key}): only NDJSON archives (an s3 sink "
                                              "with format = \"ndjson\") and file-sink output can be replayed")
                        if key_can_hold(key, since, until, tenant_values):
                            found[key] = ArchiveObject(key, int(item.get("Size", 0)), key)
            except SourceError:
                raise
            except Exception as exc:  # botocore's ClientError, NoCredentialsError, EndpointConnectionError...
                raise SourceError(f"cannot list {self.url}{partition}: {type(exc).__name__}: {exc}") from None
        return [found[key] for key in sorted(found)]

    def _days(self, paginator: Any) -> set[str]:
        """The ``dt=YYYY-MM-DD`` partitions the prefix holds (one listing, 1000 per page)."""
        days: set[str] = set()
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/",
                                           PaginationConfig={"PageSize": LIST_PAGE_KEYS}):
                for common in page.get("CommonPrefixes", []):
                    days.add(common["Prefix"][len(self.prefix):].rstrip("/"))
        except Exception as exc:  # as in objects()
            raise SourceError(f"cannot list {self.url}: {type(exc).__name__}: {exc}") from None
        return days

    def read(self, obj: ArchiveObject) -> bytes:
        if obj.size > MAX_OBJECT_LINES_BYTES:  # even gzipped lines, it is nothing an s3 sink wrote: not fetched at all
            raise ObjectUnreadable(f"{obj.key}: {obj.size:,} bytes, more than any archive object we write "
                                   f"({MAX_OBJECT_LINES_BYTES // (1024 * 1024)} MiB); not read")
        try:
            data = self.client().get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()
        except Exception as exc:
            raise ObjectUnreadable(f"{obj.key}: cannot be read ({type(exc).__name__}: {exc})") from None
        return gunzipped(data, obj.key)


class FileSource:
    """``file://PATH``: a file sink's ``path`` and its rotated ``PATH.<N>`` files, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"file://{path}"

    def _files(self) -> Iterable[Path]:
        rotated = re.compile(re.escape(self.path.name) + r"\.(\d+)")
        folder = self.path.parent
        if not folder.is_dir():
            raise SourceError(f"{self.url}: the folder {folder} does not exist")
        numbered = sorted((int(m[1]), p) for p in folder.iterdir() if (m := rotated.fullmatch(p.name)))
        yield from (p for _, p in numbered)
        if self.path.exists():
            yield self.path

    def objects(self, since: datetime, until: datetime, tenants: frozenset[str] | None) -> list[ArchiveObject]:
        found = []
        for path in self._files():
            stat = path.stat()
            name = f"{self.path.name}@{stat.st_dev}:{stat.st_ino}:{_first_line_print(path)}"
            found.append(ArchiveObject(str(path), stat.st_size, name, growing=path == self.path))
        return found

    def read(self, obj: ArchiveObject) -> bytes:
        try:
            data = Path(obj.key).read_bytes()
        except OSError as exc:
            raise ObjectUnreadable(f"{obj.key}: cannot be read ({exc.strerror})") from None
        return gunzipped(data, obj.key)


def _first_line_print(path: Path) -> str:
    """A fingerprint of the file's first whole line (its event id makes it unique), "" while it has none.

    The inode follows a file through rotation, but the file sink deletes its oldest rotated files and a
    new file may be given a freed inode: with the inode alone its checkpoint would say "done" for lines
    never read. The first line is kept through rotation and appends, so together they name one file.
    """
    try:
        with path.open("rb") as file:
            line = file.readline(FIRST_LINE_LIMIT)
    except OSError:
        return ""  # the read that follows reports it with its key
    if not line.endswith(b"\n"):
        return ""  # still being written: nothing of it is read (nor checkpointed) before it ends
    return hashlib.sha256(line).hexdigest()[:FIRST_LINE_PRINT_HEX]


def parse_source(url: str, endpoint_url: str | None = None, region: str | None = None) -> Source:
    """A source from ``--from``: ``s3://BUCKET/PREFIX`` or ``file://PATH``."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise SourceError(f"--from {url}: name the bucket, e.g. s3://auth-logs/authlog/")
        return S3Source(parsed.netloc, unquote(parsed.path.lstrip("/")), region=region, endpoint_url=endpoint_url)
    if parsed.scheme == "file":
        path = unquote(parsed.netloc + parsed.path)
        if not path:
            raise SourceError(f"--from {url}: name the file sink's path, e.g. file:///var/log/authlog/events.ndjson")
        return FileSource(Path(os.path.expanduser(path)))
    raise SourceError(f"--from {url}: give s3://BUCKET/PREFIX (an s3 sink's archive) or file://PATH (a file sink's output)")
