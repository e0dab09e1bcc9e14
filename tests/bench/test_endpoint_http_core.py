"""The counting endpoints' HTTP/1.1 core, driven over raw sockets: framing, keep-alive, 100-continue, gzip."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import Iterator

import pytest

from bench.endpoints.http_core import BodyError, Request, Response, decoded, serve

# Why: a loopback exchange answers in microseconds; the timeout only stops a broken test hanging.
SOCKET_TIMEOUT = 10.0


class EchoServer:
    """The core on its own event loop thread, answering each request with what it received."""

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def listen() -> None:
            self.server = await serve(self.handle)
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(listen(), self.loop).result(SOCKET_TIMEOUT)
        started.wait(SOCKET_TIMEOUT)

    def handle(self, request: Request) -> Response:
        self.seen.append(request)
        answer = Response(200, b"%s %s %d" % (request.method.encode(), request.path.encode(), len(request.body)))
        if request.path.startswith("/hold/"):  # /hold/<seconds>/...: the answer is held that long (a remote latency)
            answer.after = float(request.path.split("/")[2])
        return answer

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(SOCKET_TIMEOUT)


@pytest.fixture(scope="module")
def server() -> Iterator[EchoServer]:
    echo = EchoServer()
    yield echo
    echo.close()


def read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """Read ``count`` whole answers (head + Content-Length body) from one connection."""
    buffer, answers = b"", []
    while len(answers) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode()
            length = int(next(line.split(":")[1] for line in head.split("\r\n") if line.lower().startswith("content-length")))
            if len(buffer) >= head_end + 4 + length:
                answers.append(buffer[: head_end + 4 + length])
                buffer = buffer[head_end + 4 + length :]
                continue
        data = sock.recv(65536)
        assert data, "the server closed the connection early"
        buffer += data
    return answers


def test_two_pipelined_requests_on_one_connection_are_answered_in_order(server: EchoServer) -> None:
    """Keep-alive and pipelining: both requests, sent at once, are answered in order on the same socket."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b%20c?x=1 HTTP/1.1\r\n\r\n")
        first, second = read_answers(sock, 2)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"POST /a 3")
    assert second.endswith(b"GET /b c 0")
    assert server.seen[-1].query == {"x": "1"}


def test_a_held_answer_keeps_the_order_of_its_connection_and_holds_up_no_other(server: EchoServer) -> None:
    """Answers held for a latency come back in request order on their connection, while another connection is answered meanwhile."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as held, \
            socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as other:
        held.sendall(b"GET /hold/60/slow HTTP/1.1\r\n\r\n")  # far longer than the test: never answered while it runs
        other.sendall(b"GET /hold/0.01/a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        first, second = read_answers(other, 2)
        held.setblocking(False)
        with pytest.raises(BlockingIOError):
            held.recv(1)
    assert first.endswith(b"GET /hold/0.01/a 0") and second.endswith(b"GET /b 0")


def test_a_chunked_body_arriving_in_pieces_is_joined(server: EchoServer) -> None:
    """Transfer-Encoding: chunked, split across several sends mid-chunk, gives the handler the whole body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        for piece in (b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", b"cd\r\n3;ext=1\r\nefg\r\n", b"0\r\n\r\n"):
            sock.sendall(piece)
        (answer,) = read_answers(sock, 1)
    assert answer.endswith(b"PUT /c 7")
    assert server.seen[-1].body == b"abcdefg"


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: EchoServer) -> None:
    """A client that waits for 100 Continue (boto3 may) gets it, then the real answer after its body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(b"PUT /d HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hi")
        (answer,) = read_answers(sock, 1)
    assert answer.endswith(b"PUT /d 2")


def test_connection_close_is_honoured_and_a_malformed_request_gets_400(server: EchoServer) -> None:
    """``Connection: close`` ends the connection after the answer; a bad request line is a 400, then closed."""
    for raw, expected in ((b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", b"HTTP/1.1 200"),
                          (b"NONSENSE\r\n\r\n", b"HTTP/1.1 400")):  # fmt: skip
        with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
            sock.sendall(raw)
            received = b""
            while data := sock.recv(65536):  # ends only when the server closes
                received += data
        assert received.startswith(expected)
        assert b"Connection: close" in received


def test_decoded_undoes_gzip_and_deflate_and_refuses_a_corrupt_body() -> None:
    """decoded() returns the plain body for gzip and identity, and BodyError for bytes that are not gzip."""
    plain = b'{"a": 1}\n'
    request = Request("POST", "/", {}, {"content-encoding": "gzip"}, gzip.compress(plain))
    assert decoded(request) == plain
    assert decoded(Request("POST", "/", {}, {}, plain)) == plain
    with pytest.raises(BodyError):
        decoded(Request("POST", "/", {}, {"content-encoding": "gzip"}, b"not gzip"))
