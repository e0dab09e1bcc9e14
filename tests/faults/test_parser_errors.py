"""Requests aiohttp's parser refuses, against a real ``authlog run``: their bytes (a token) reach neither the log nor the answer."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import pytest
from live_sidecar import POLL_SECONDS, LiveSidecar, free_port, write_config

from shippers.sidecar.quiet import ParserErrorFilter
from shippers.testing.raw_socket import exchange

TOKEN = "s3cr3t-token-abc"
# Why: a bounded wait for the child's log line; it is written within milliseconds.
LOG_DEADLINE_SECONDS = 10.0
MALFORMED = {
    "token-in-a-bad-header": b"GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\x01\r\n\r\n",
    "event-after-a-short-content-length": (
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + TOKEN.encode()
        + b"\r\nContent-Length: 2\r\n\r\n{}" + b'{"type":"login.completed","email":"ana@example.com","token":"' + TOKEN.encode() + b'"}'
    ),
}


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSidecar]:
    folder = tmp_path_factory.mktemp("parser-errors")
    port = free_port()
    with LiveSidecar(write_config(folder, port, token=TOKEN), port, token=TOKEN) as live:
        yield live


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_request_never_echoes_its_bytes(sidecar: LiveSidecar, name: str) -> None:
    """The 400 answer is a fixed text, and the sidecar's log names the error class only: the token appears in neither."""
    port = int(sidecar.url.rsplit(":", 1)[1])
    before = sidecar.log_text()
    answer = exchange("127.0.0.1", port, MALFORMED[name], timeout=5)
    assert b" 400 Bad Request\r\n" in answer and b"not valid HTTP/1.1" in answer
    assert TOKEN.encode() not in answer and b"ana@example.com" not in answer
    deadline = time.monotonic() + LOG_DEADLINE_SECONDS
    while time.monotonic() < deadline and "malformed HTTP request" not in sidecar.log_text()[len(before):]:
        time.sleep(POLL_SECONDS)
    written = sidecar.log_text()
    assert "malformed HTTP request" in written  # the line is there (once: later ones are throttled)
    assert TOKEN not in written and "ana@example.com" not in written and "Traceback" not in written


def test_the_filter_strips_text_and_traceback_from_a_parser_error_record() -> None:
    """ParserErrorFilter rewrites a record carrying a BadHttpMessage to its class and code, with no exc_info."""
    from aiohttp.http_exceptions import BadHttpMessage

    try:
        raise BadHttpMessage(f"Invalid header value char: b'Authorization: Bearer {TOKEN}'")
    except BadHttpMessage:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                                   ("127.0.0.1",), sys.exc_info())
    assert ParserErrorFilter().filter(record)
    assert record.exc_info is None and record.getMessage() == (
        "a client sent a malformed HTTP request (BadHttpMessage, HTTP 400); its bytes are not logged"
    )
    other = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "something else %s", ("x",), None)
    assert ParserErrorFilter().filter(other) and other.getMessage() == "something else x"

