"""Fast counting far ends for the destination benchmarks: each speaks its destination's protocol and only counts.

The stand-ins of ``shippers.testing`` parse and keep every item in Python, which is what tests
need and what bounds a throughput figure (the Datadog stand-in took ~24k logs/s, the Cloud
Logging one ~13k entries/s). These answer the same requests with the documented success after
reading each item's id with msgspec, so events/s measure the shipper::

    CountingDatadog       POST /api/v2/logs        DD-API-KEY checked; a JSON array of at most 1000
                                                   logs and 5 MB uncompressed (else 413) -> 202 {}
    CountingCloudLogging  POST /v2/entries:write   {"entries": [...]} -> 200 {}
    CountingS3            PUT /<bucket>/<key>      If-None-Match: * -> 412 when the key exists, else
                                                   200 with an ETag; HEAD gives the object's metadata

Each counts what arrived by the event id it carries (``evt.id``, ``insertId``, ``id`` or
``metadata.uid``): :meth:`counts` is (distinct ids, copies). aiohttp undoes the gzip of the
Datadog bodies before the handler reads them; the S3 far end keeps each object as it came, like
a store, and reads the lines only when asked to count (moto's server is measured the same way).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import Counter

import msgspec
from aiohttp import web

from shippers.testing.fake_server import FakeServer

# Why: the Logs API v2 limits (1000 logs, 5 MB uncompressed): a request past them is a 413, so a
# benchmark run can never pass by sending what the real intake refuses.
DATADOG_MAX_LOGS = 1000
DATADOG_MAX_BYTES = 5_000_000
# Why: the largest body any of our sinks sends (S3's single PUT cap, 100 MiB), with room to spare.
MAX_BODY_BYTES = 128 * 1024 * 1024


class _Evt(msgspec.Struct):
    id: str


class _DatadogLog(msgspec.Struct):
    evt: _Evt


class _Entry(msgspec.Struct, rename={"insert_id": "insertId"}):
    insert_id: str


class _Write(msgspec.Struct):
    entries: list[_Entry]


class _Metadata(msgspec.Struct):
    uid: str


class _Line(msgspec.Struct):
    id: str | None = None  # archive lines
    metadata: _Metadata | None = None  # OCSF lines


_logs = msgspec.json.Decoder(list[_DatadogLog])
_write = msgspec.json.Decoder(_Write)
_line = msgspec.json.Decoder(_Line)


class _Counting(FakeServer):
    """Ids seen, with how often; :meth:`counts` and :meth:`reset` for the benchmark's child process."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def _note(self, ids: list[str]) -> None:
        with self._count_lock:
            self._seen.update(ids)

    def counts(self) -> tuple[int, int]:
        """(distinct event ids, copies) that arrived."""
        with self._count_lock:
            return len(self._seen), sum(self._seen.values())

    def reset(self) -> None:
        with self._count_lock:
            self._seen.clear()


class CountingDatadog(_Counting):
    """``POST /api/v2/logs``: 202 for a valid array within the intake's limits."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/api/v2/logs", self._submit)
        return app

    async def _submit(self, request: web.Request) -> web.Response:
        if request.headers.get("DD-API-KEY") != self.api_key:
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        body = await request.read()
        if len(body) > DATADOG_MAX_BYTES:
            return web.json_response({"errors": ["Payload too large"]}, status=413)
        try:
            logs = _logs.decode(body)
        except msgspec.DecodeError:
            return web.json_response({"errors": ["Bad Request"]}, status=400)
        if len(logs) > DATADOG_MAX_LOGS:
            return web.json_response({"errors": ["Payload too large"]}, status=413)
        self._note([log.evt.id for log in logs])
        return web.json_response({}, status=202)


class CountingCloudLogging(_Counting):
    """``POST /v2/entries:write``: ``200 {}`` for a body of entries."""

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/v2/entries:write", self._write)
        return app

    async def _write(self, request: web.Request) -> web.Response:
        try:
            written = _write.decode(await request.read())
        except msgspec.DecodeError:
            return web.json_response({"error": {"code": 400, "message": "bad body", "status": "INVALID_ARGUMENT"}}, status=400)
        self._note([entry.insert_id for entry in written.entries])
        return web.json_response({})


class _Object(msgspec.Struct):
    body: bytes  # as sent (gzip NDJSON)
    metadata: dict[str, str]  # the x-amz-meta-* headers, returned by HEAD


class CountingS3(_Counting):
    """``PUT`` / ``HEAD`` of objects in any bucket, path-style, written at most once per key."""

    def __init__(self) -> None:
        super().__init__()
        self._objects: dict[str, _Object] = {}  # by path
        self._counted: set[str] = set()

    def make_app(self) -> web.Application:
        # auto_decompress off: an object's Content-Encoding describes the object, not the upload.
        app = web.Application(client_max_size=MAX_BODY_BYTES, handler_args={"auto_decompress": False})
        app.router.add_put("/{path:.+}", self._put)
        app.router.add_head("/{path:.+}", self._head)
        return app

    def objects(self) -> int:
        with self._count_lock:
            return len(self._objects)

    def counts(self) -> tuple[int, int]:
        with self._count_lock:
            fresh = [(path, obj) for path, obj in self._objects.items() if path not in self._counted]
            self._counted.update(path for path, _ in fresh)
        for _, obj in fresh:
            lines = [_line.decode(raw) for raw in gzip.decompress(obj.body).splitlines()]
            self._note([line.id if line.id is not None else line.metadata.uid if line.metadata else "" for line in lines])
        return super().counts()

    def reset(self) -> None:
        super().reset()
        with self._count_lock:
            self._objects.clear()
            self._counted.clear()

    async def _put(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        metadata = {k: v for k, v in request.headers.items() if k.lower().startswith("x-amz-meta-")}
        with self._count_lock:
            if request.headers.get("If-None-Match") == "*" and path in self._objects:
                return web.Response(status=412)
            self._objects[path] = _Object(body, metadata)
        return web.Response(status=200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    async def _head(self, request: web.Request) -> web.Response:
        with self._count_lock:
            stored = self._objects.get(request.match_info["path"])
        return web.Response(status=404) if stored is None else web.Response(status=200, headers=stored.metadata)
