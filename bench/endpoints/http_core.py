"""A tiny, fast HTTP/1.1 server core for the counting endpoints: one asyncio Protocol, one thread.

Why not aiohttp (what the ``shippers.testing`` stand-ins use): its per-request machinery costs
more CPU than the shippers we measure spend per request, so the far end would bound the figure.
This core does only what the clients we point at it need::

    bytes in -> request line + headers (up to MAX_HEAD_BYTES)
             -> body framed by Content-Length, or Transfer-Encoding: chunked (trailers skipped)
             -> ``Expect: 100-continue`` answered with ``100 Continue`` before the body is read
             -> handler(Request) -> Response  (synchronous: the endpoints only count)
             -> one write of status line + headers + Content-Length + body
             -> keep-alive (HTTP/1.1 default; HTTP/1.0 with ``Connection: keep-alive``),
                pipelined requests answered in order, ``Connection: close`` honoured

A request body is handed over exactly as it came on the wire: :func:`decoded` undoes a
``Content-Encoding`` (gzip, deflate) for the endpoints whose protocol means transport
compression by it (Elasticsearch, Datadog); S3 stores the bytes as the object.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

# Why: real servers cap the request head around 8-64 KiB (Elasticsearch: 8 KiB initial line,
# 16 KiB headers); the clients we serve send under 2 KiB.
MAX_HEAD_BYTES = 64 * 1024
# Why: above Elasticsearch's default http.max_content_length (100 MiB), so no client we
# measure is refused by the core; the cap only keeps a broken client from eating the memory.
MAX_BODY_BYTES = 200 * 1024 * 1024
# Why: a listen backlog long enough for a burst of connections from a client's pool.
LISTEN_BACKLOG = 512

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class BodyError(Exception):
    """A request body that cannot be decoded by its Content-Encoding."""


@dataclass(slots=True)
class Request:
    """One request, as the handler sees it."""

    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes  # as on the wire (any Content-Encoding still applied)
    raw_path: str = ""  # the path as sent (still percent-encoded)


@dataclass(slots=True)
class Response:
    """One answer; ``content_length`` overrides the body's length (a HEAD answer, which has no body)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None
    after: float = 0.0  # seconds to hold the answer (a remote destination's latency); the loop stays free meanwhile


Handler = Callable[[Request], Response]


def decoded(request: Request) -> bytes:
    """The body with its ``Content-Encoding`` (gzip, x-gzip, deflate, identity) undone; BodyError if it is corrupt."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return request.body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(request.body, wbits=31)  # 31: a gzip header and trailer
        if encoding == "deflate":
            return zlib.decompress(request.body)
    except zlib.error as exc:
        raise BodyError(f"the body is not valid {encoding}: {exc}") from None
    raise BodyError(f"Content-Encoding {encoding!r} is not supported")


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Unknown"


def encode_response(response: Response, *, head: bool, keep_alive: bool) -> bytes:
    """The bytes of one answer (no body after a HEAD)."""
    length = len(response.body) if response.content_length is None else response.content_length
    lines = [b"HTTP/1.1 %d %s" % (response.status, _reason(response.status))]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in response.headers.items()]
    lines.append(b"Content-Length: %d" % length)
    if not keep_alive:
        lines.append(b"Connection: close")
    head_bytes = b"\r\n".join(lines) + b"\r\n\r\n"
    return head_bytes if head else head_bytes + response.body


class _Malformed(Exception):
    """A request the core cannot frame: answered with 400 and the connection closed."""


@dataclass(slots=True)
class _Head:
    method: str
    target: str
    keep_alive: bool
    headers: dict[str, str]
    body_start: int
    length: int | None  # Content-Length, or None for chunked
    continue_sent: bool = False
    chunks: list[bytes] = field(default_factory=list)
    chunk_pos: int = 0  # where the next chunk-size line starts (chunked bodies)


def _parse_head(buffer: bytearray, end: int) -> _Head:
    lines = bytes(buffer[:end]).split(b"\r\n")
    try:
        method, target, version = lines[0].decode("latin-1").split(" ")
    except ValueError:
        raise _Malformed("bad request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise _Malformed("bad header line")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    body_start = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _Head(method, target, keep_alive, headers, body_start, None, chunk_pos=body_start)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _Malformed("bad Content-Length") from None
    if length < 0 or length > MAX_BODY_BYTES:
        raise _Malformed("Content-Length out of range")
    return _Head(method, target, keep_alive, headers, body_start, length)


def _chunked_end(buffer: bytearray, head: _Head) -> int | None:
    """Read as many whole chunks as have arrived; the offset after the body once the last one has."""
    pos = head.chunk_pos
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            return None
        try:
            size = int(bytes(buffer[pos:line_end]).split(b";", 1)[0], 16)
        except ValueError:
            raise _Malformed("bad chunk size") from None
        if size == 0:
            if buffer[line_end + 2 : line_end + 4] == b"\r\n":  # no trailers
                return line_end + 4
            trailers_end = buffer.find(b"\r\n\r\n", line_end + 2)
            return None if trailers_end < 0 else trailers_end + 4
        data_end = line_end + 2 + size
        if len(buffer) < data_end + 2:
            return None
        head.chunks.append(bytes(buffer[line_end + 2 : data_end]))
        if sum(map(len, head.chunks)) > MAX_BODY_BYTES:
            raise _Malformed("chunked body too large")
        pos = head.chunk_pos = data_end + 2


class HttpProtocol(asyncio.Protocol):
    """One client connection: frames requests, calls the handler, writes the answers in order."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.buffer = bytearray()
        self.head: _Head | None = None
        self.transport: asyncio.Transport | None = None
        self._last_due = 0.0  # loop time the last held answer goes out (a later answer waits for it)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            while self.transport is not None and self._serve_one():
                pass
        except _Malformed as exc:
            self._close_with(Response(400, f"{exc}\n".encode(), {"Content-Type": "text/plain"}))

    def _serve_one(self) -> bool:
        """Answer one request if a whole one has arrived; False when more bytes are needed."""
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    raise _Malformed("request head too large")
                return False
            self.head = _parse_head(self.buffer, end)
        head = self.head
        if head.length is not None:
            body_end: int | None = head.body_start + head.length
            if len(self.buffer) < body_end:  # type: ignore[operator]
                body_end = None
        else:
            body_end = _chunked_end(self.buffer, head)
        if body_end is None:
            if not head.continue_sent and head.headers.get("expect", "").lower() == "100-continue":
                head.continue_sent = True
                assert self.transport is not None
                self.transport.write(_CONTINUE)
            return False
        body = bytes(self.buffer[head.body_start : body_end]) if head.length is not None else b"".join(head.chunks)
        del self.buffer[:body_end]
        self.head = None
        self._answer(head, body)
        return True

    def _answer(self, head: _Head, body: bytes) -> None:
        raw_path, _, query = head.target.partition("?")
        request = Request(head.method, unquote(raw_path), dict(parse_qsl(query, keep_blank_values=True)),
                          head.headers, body, raw_path)  # fmt: skip
        try:
            response = self.handler(request)
        except Exception:  # a bug in an endpoint: say so loudly, answer 500 (never a success)
            traceback.print_exc(file=sys.stderr)
            response = Response(500, b"endpoint error\n", {"Content-Type": "text/plain"})
        loop = asyncio.get_running_loop()
        due = max(loop.time() + response.after, self._last_due)  # never before an answer held ahead of it: order kept
        if due <= loop.time():
            self._write(response, head)
        else:
            self._last_due = due
            loop.call_at(due, self._write, response, head)

    def _write(self, response: Response, head: _Head) -> None:
        if self.transport is None:  # the client went away meanwhile
            return
        self.transport.write(encode_response(response, head=head.method == "HEAD", keep_alive=head.keep_alive))
        if not head.keep_alive:
            self.transport.close()
            self.transport = None

    def _close_with(self, response: Response) -> None:
        if self.transport is not None:
            self.transport.write(encode_response(response, head=False, keep_alive=False))
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Listen on ``host:port`` (0: any free port) and serve every connection with ``handler``."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HttpProtocol(handler), host, port, backlog=LISTEN_BACKLOG)
