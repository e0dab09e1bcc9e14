"""The HTTP surface review of issue 10: fairness between requests, header echoes, Expect, disconnects, /v1/dlq pages."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sidecar_fakes import FakeLetter, FakeShipper, ServedApp, make_config

from shippers.sidecar.app import MAX_INGESTS_IN_FLIGHT, STATE, error_response
from shippers.sidecar.turns import VALIDATE_TURN_ITEMS
from shippers.testing.raw_socket import exchange

# Why: bounded waits for something the test polls (a commit, a log record); far above what they take.
DEADLINE_SECONDS = 20.0


def _raw_exchange(server: ServedApp, head: bytes, body: bytes = b"", *, read_first_only: bool = False) -> bytes:
    """Send raw bytes on a fresh connection; the answer as received until close (or the first chunk)."""
    return exchange(server.host, server.port, head + body, timeout=10, read_first_only=read_first_only)


# -- 1. one huge request cannot make the others wait -----------------------------------------------


HUGE_ITEMS = 5 * VALIDATE_TURN_ITEMS


class GatedShipper(FakeShipper):
    """A fake that makes the race deterministic: the huge request's first items wait until the small
    request holds its ingest slot (its split is then queued), and its last items until the small one is committed."""

    small_committed: threading.Event
    small_in: Callable[[], bool]
    calls: list[tuple[int, int]]

    def validate_raw(self, items: list[bytes], *, start: int = 0, into: Any = None) -> Any:
        if any(b'"huge-' in item for item in items):
            self.calls.append((start, len(items)))
            if start == 0:
                _poll(self.small_in)
            if start + len(items) == HUGE_ITEMS:  # bounded: without turns the small one is queued behind this call
                self.small_committed.wait(DEADLINE_SECONDS)
        return super().validate_raw(items, start=start, into=into)

    def commit_validated(self, validated: Any) -> Any:
        result = super().commit_validated(validated)
        if any(event.id == "small" for event in validated[0]):
            self.small_committed.set()
        return result


def _poll(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_small_request_sent_after_a_huge_one_is_committed_before_the_huge_one_finishes_validating(tmp_path: Path) -> None:
    """The validator takes requests in turns of VALIDATE_TURN_ITEMS items, so a small request is not queued behind a huge one."""
    shipper = GatedShipper(make_config(tmp_path, max_body_bytes=8 * 1024 * 1024, max_events_per_request=50_000))
    shipper.small_committed = threading.Event()
    shipper.calls = []
    huge = "\n".join(f'{{"type":"login.complete","id":"huge-{i}"}}' for i in range(HUGE_ITEMS)).encode()
    answers: dict[str, Any] = {}
    with ServedApp(shipper, []) as server:
        slots = server._runner.app[STATE].slots  # type: ignore[union-attr]
        # Both requests hold a slot: the small one's split is queued on the validator thread.
        shipper.small_in = lambda: slots._value <= MAX_INGESTS_IN_FLIGHT - 2
        big = threading.Thread(target=lambda: answers.update(huge=server.post(huge, "application/x-ndjson")))
        big.start()
        _poll(lambda: bool(shipper.calls))  # the huge one is being validated
        answers["small"] = server.post(b'{"type":"login.completed","id":"small"}')
        committed_first = shipper.small_committed.is_set() and "huge" not in answers
        big.join(DEADLINE_SECONDS * 2)
    assert answers["small"][0] == 202
    assert committed_first, "the small request waited for the whole huge one"
    status, body, _ = answers["huge"]
    assert status == 422 and len(body["rejected"]) == HUGE_ITEMS
    assert [r["index"] for r in body["rejected"]] == list(range(HUGE_ITEMS))  # turns joined in order


def test_turns_give_the_same_answer_as_one_call(tmp_path: Path) -> None:
    """A request validated in several turns by the real Shipper reports every index once, in order, accepted and rejected mixed."""
    from shippers.shipper import Shipper

    shipper = Shipper.from_config(make_config(tmp_path, max_events_per_request=50_000))
    lines = [b'{"type":"login.completed"}' if i % 3 else b'{"type":"nope.nope"}' for i in range(2 * VALIDATE_TURN_ITEMS + 7)]
    try:
        with ServedApp(shipper, []) as server:  # type: ignore[arg-type]
            status, body, _ = server.post(b"\n".join(lines), "application/x-ndjson")
    finally:
        shipper.close(1.0)
    assert status == 202
    assert [r["index"] for r in body["rejected"]] == [i for i in range(len(lines)) if i % 3 == 0]
    assert body["accepted"] == len(lines) - len(body["rejected"])


# -- 3. header text that JSON cannot carry ----------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [(b"Content-Type", b"applicati\xf3n/json"), (b"Content-Encoding", b"gz\xefp")])
def test_a_non_utf8_byte_in_content_type_or_encoding_is_a_415_not_a_500(served_real: ServedApp, name: bytes, value: bytes) -> None:
    """check_headers quotes header text ASCII-escaped, so the 415 answer can always be encoded."""
    body = b'{"type":"login.completed"}'
    head = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s: %s\r\nContent-Length: %d\r\n\r\n" % (name, value, len(body))
    answer = _raw_exchange(served_real, head, body)
    assert answer.startswith(b"HTTP/1.1 415 ")
    message = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert message.isascii() and "\\udc" in message


def test_error_response_never_raises() -> None:
    """A message holding a lone surrogate (or not a str at all) still becomes a JSON error body."""
    for message in ["bad \udcf3 byte", "\ud800", 42]:
        response = error_response(400, message)  # type: ignore[arg-type]
        assert response.status == 400 and "error" in json.loads(response.body)


_HEADER_BYTES = st.binary(max_size=80).filter(lambda b: b"\r" not in b and b"\n" not in b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content_type=_HEADER_BYTES, content_encoding=st.one_of(st.none(), _HEADER_BYTES))
def test_no_header_bytes_ever_get_a_5xx(served_real: ServedApp, content_type: bytes, content_encoding: bytes | None) -> None:
    """Whatever bytes Content-Type and Content-Encoding hold, the real app answers below 500."""
    body = b'{"type":"login.completed"}'
    encoding = b"" if content_encoding is None else b"Content-Encoding: %s\r\n" % content_encoding
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: %s\r\n%sContent-Length: %d\r\n\r\n"
            % (content_type, encoding, len(body)))
    answer = _raw_exchange(served_real, head, body)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0
    assert 200 <= status < 500, answer[:200]


# -- 6a. a client that hangs up mid-body -------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_client_hanging_up_mid_body_is_a_debug_line_not_an_error(served: ServedApp) -> None:
    """read_capped turns the lost connection into a debug line: no ERROR, no traceback, no 'unexpected error'."""
    records = _Records()
    logger = logging.getLogger("authlog.sidecar")
    old_level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        with socket.create_connection((served.host, served.port), timeout=5) as sock:
            sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                         b'{"type":')
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and not any("before its whole body" in r.getMessage() or r.levelno >= logging.ERROR
                                                      for r in records.records):
            time.sleep(0.01)
    finally:
        logger.removeHandler(records)
        logger.setLevel(old_level)
    assert not [r.getMessage() for r in records.records if r.levelno >= logging.WARNING]
    assert any(r.levelno == logging.DEBUG and "before its whole body" in r.getMessage() for r in records.records)


# -- 6b. Expect: 100-continue ------------------------------------------------------------------------


def _expect_head(length: int, content_type: str = "application/json", token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n{auth}"
            f"Expect: 100-continue\r\nContent-Length: {length}\r\n\r\n").encode()


def test_expect_continue_is_refused_first_when_the_body_is_too_large(served: ServedApp) -> None:
    """A Content-Length over max_body_bytes is answered 413 at once, never 100 Continue."""
    answer = _raw_exchange(served, _expect_head(100 * 1024 * 1024), read_first_only=True)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer


def test_expect_continue_is_refused_first_for_a_bad_media_type(served: ServedApp) -> None:
    """An unsupported Content-Type is answered 415 before the body is asked for."""
    answer = _raw_exchange(served, _expect_head(10, "text/plain"), read_first_only=True)
    assert answer.startswith(b"HTTP/1.1 415 ") and b"100 Continue" not in answer


def test_expect_continue_while_shutting_down_is_a_503_not_a_500(served: ServedApp) -> None:
    """During shutdown an Expect: 100-continue request gets the shutdown 503 with Retry-After, before the body (found by review)."""
    served._runner.app[STATE].closing = True  # type: ignore[union-attr]
    answer = _raw_exchange(served, _expect_head(10), read_first_only=True)
    assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After" in answer and b"100 Continue" not in answer


def test_expect_continue_is_refused_first_without_the_token(served_with_token: ServedApp) -> None:
    """Without a valid token the answer is 401, before the body; with it, 100 Continue then 202."""
    answer = _raw_exchange(served_with_token, _expect_head(10), read_first_only=True)
    assert answer.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in answer
    body = b'{"type":"login.completed"}'
    with socket.create_connection((served_with_token.host, served_with_token.port), timeout=10) as sock:
        sock.sendall(_expect_head(len(body), token="s3cret-new"))
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        final = first.split(b"\r\n\r\n", 1)[1] or sock.recv(65536)
    assert final.startswith(b"HTTP/1.1 202 ")


# -- 4b. /v1/dlq pages --------------------------------------------------------------------------------


def test_a_dlq_page_stops_at_its_byte_cap_and_says_truncated(fake_shipper: FakeShipper) -> None:
    """1000 letters with 16 KiB details are cut to about MAX_DLQ_PAGE_BYTES, and the page says "truncated": true."""
    from shippers.catalog import builtin_catalog
    from shippers.event import EventValidator
    from shippers.sidecar.app import MAX_DLQ_PAGE_BYTES

    details = json.dumps({f"k{i}": "v" * 150 for i in range(100)})
    event = EventValidator(builtin_catalog()).decode(f'{{"type":"login.completed","details":{details}}}')
    fake_shipper.letters = [FakeLetter(i, "local", i, "x", 0.0, event) for i in range(1000)]
    with ServedApp(fake_shipper, []) as server:
        status, _, raw = server.request("GET", "/v1/dlq?limit=1000")
        page = json.loads(raw)
        assert status == 200 and page["truncated"] is True
        assert 0 < len(page["deadLetters"]) < 1000 and len(raw) <= MAX_DLQ_PAGE_BYTES + 64 * 1024
        status, _, raw = server.request("GET", "/v1/dlq?limit=5")
        assert json.loads(raw)["truncated"] is False and len(json.loads(raw)["deadLetters"]) == 5


def test_a_dlq_page_is_built_off_the_event_loop(fake_shipper: FakeShipper) -> None:
    """Building and encoding the letters runs on a worker thread, not on the thread that runs the event loop."""
    threads: list[str] = []

    class Letter(FakeLetter):
        @property  # type: ignore[override]
        def reason(self) -> str:  # read while the page is built
            threads.append(threading.current_thread().name)
            return "x"

        @reason.setter
        def reason(self, value: str) -> None:
            pass

    from shippers.catalog import builtin_catalog
    from shippers.event import EventValidator

    event = EventValidator(builtin_catalog()).decode(b'{"type":"login.completed"}')
    fake_shipper.letters = [Letter(1, "local", 1, "x", 0.0, event)]
    with ServedApp(fake_shipper, []) as server:
        assert server.request("GET", "/v1/dlq")[0] == 200
    assert threads and all(name != "ServedApp" for name in threads)
