"""The fault front does to each request what its fault says, forwards the rest byte for byte, and records it."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator

import pytest

from shippers.testing.fault_front import CUT, DROP, LOSE, PASS, FaultFront, Seen, retry_after_gaps, status
from shippers.testing.scripted_http import Answer, ScriptedHTTPServer

# Why: every request here is on loopback and answered at once; 10 s means something hangs.
TIMEOUT_SECONDS = 10.0


@pytest.fixture
def backend() -> Iterator[ScriptedHTTPServer]:
    with ScriptedHTTPServer(Answer(200, {"Content-Type": "application/json"}, b'{"ok": true, "padding": "0123456789"}')) as server:
        yield server


@pytest.fixture
def front(backend: ScriptedHTTPServer) -> Iterator[FaultFront]:
    with FaultFront(backend.url, lambda method, path: path.startswith("/write")) as server:
        yield server


def post(front: FaultFront, path: str = "/write", body: bytes = b"hello", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", front.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body, headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_pass_forwards_the_body_as_sent_and_the_answer_as_given(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """A passing request reaches the backend with its (gzipped) body unchanged; the client gets the backend's answer."""
    body = gzip.compress(b"line 1\nline 2\n")
    code, _, answer = post(front, body=body, headers={"Content-Encoding": "gzip"})
    assert (code, answer) == (200, b'{"ok": true, "padding": "0123456789"}')
    [received] = backend.requests
    assert received.body == body and received.headers["content-encoding"] == "gzip"
    [seen] = front.seen
    assert (seen.fault, seen.body, seen.reached_destination) == (PASS, b"line 1\nline 2\n", True)


def test_status_answers_without_forwarding_and_sends_retry_after(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """status(429, 3) answers 429 with Retry-After: 3 and a proxy's HTML page; the backend never sees it."""
    front.queue(status(429, 3))
    code, headers, answer = post(front)
    assert (code, headers["retry-after"], headers["content-type"].split(";")[0]) == (429, "3", "text/html")
    assert b"429" in answer and backend.requests == []


def test_drop_closes_before_forwarding(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """DROP closes the connection without an answer, and the backend never saw the request."""
    front.queue(DROP)
    with pytest.raises(http.client.RemoteDisconnected):
        post(front)
    assert backend.requests == [] and front.seen[0].reached_destination is False


def test_lose_forwards_then_closes_without_an_answer(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """LOSE: the backend has the request, the client gets no answer at all."""
    front.queue(LOSE)
    with pytest.raises(http.client.RemoteDisconnected):
        post(front)
    assert len(backend.requests) == 1


def test_cut_sends_half_the_answer_then_closes(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """CUT: status and headers arrive, the body stops half-way (the client sees an incomplete read)."""
    front.queue(CUT)
    with pytest.raises(http.client.IncompleteRead):
        post(front)
    assert len(backend.requests) == 1


def test_hold_keeps_the_answer_until_released(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """hold_next(): the backend gets the request at once, the client its answer only after release()."""
    front.hold_next()
    answers: list[int] = []
    client = threading.Thread(target=lambda: answers.append(post(front)[0]))
    client.start()
    assert front.wait_held(TIMEOUT_SECONDS)
    assert len(backend.requests) == 1 and answers == []
    front.release()
    client.join(TIMEOUT_SECONDS)
    assert answers == [200]


def test_only_faulted_paths_take_faults_and_the_plan_follows_the_queue(front: FaultFront, backend: ScriptedHTTPServer) -> None:
    """A path outside ``faulted`` always passes; faulted requests take the queue first, then the plan by number."""
    front.queue(status(503))
    front.plan = lambda index: status(502) if index % 2 else PASS
    assert post(front, "/setup")[0] == 200  # not faulted: passes, takes no fault, does not count
    assert [post(front)[0] for _ in range(4)] == [503, 502, 200, 502]


def test_retry_after_gaps_pairs_each_hint_with_the_next_request_of_its_key() -> None:
    """Each answer with Retry-After is paired with the next request of the same key, and only that one."""
    def seen(at: float, key: str, retry_after: float | None = None) -> Seen:
        fault = status(429, retry_after) if retry_after is not None else PASS
        return Seen(at, "POST", key, fault, b"", False)

    requests = [seen(0.0, "/a", 1), seen(0.5, "/b"), seen(1.2, "/a"), seen(1.3, "/a"), seen(2.0, "/b", 2)]
    pairs = retry_after_gaps(requests, key=lambda s: s.path)
    assert [(hint.at, after.at) for hint, after in pairs] == [(0.0, 1.2)]


def test_a_request_already_on_its_way_is_not_paired_with_a_hint() -> None:
    """A request that arrived before the Retry-After answer was given (another one in flight) is skipped; the next one is paired."""
    hint = Seen(0.0, "POST", "/a", status(429, 1), b"", False, 0.05)
    in_flight = Seen(0.01, "POST", "/a", PASS, b"", True, 0.02)
    after = Seen(1.2, "POST", "/a", PASS, b"", True, 1.21)
    pairs = retry_after_gaps([hint, in_flight, after])
    assert [(h.at, a.at) for h, a in pairs] == [(0.0, 1.2)]
