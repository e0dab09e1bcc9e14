"""shippers.client against a served sidecar app: results, which failures are retried, and how long it waits."""

from __future__ import annotations

import socket
import threading

import pytest
from sidecar_fakes import FakeShipper, ServedApp

from shippers.client import JSON, NO_RETRY, Client, RequestRejected, RetryPolicy, SidecarUnavailable

EVENT = {"id": "c-1", "type": "login.completed", "userId": "u-1"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_send_returns_accepted_and_rejected(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """A mixed NDJSON batch returns the accepted count and each rejection with its index."""
    with Client(served.url) as client:
        result = client.send([EVENT, {"type": "nope.nope"}, EVENT])
    assert result.accepted == 2 and result.status == 202
    assert [index for index, _ in result.rejected] == [1]
    assert len(fake_shipper.committed) == 2


def test_send_all_rejected_is_a_result_not_an_error(served: ServedApp) -> None:
    """A 422 is an answer about the events, so send() returns it instead of raising."""
    result = Client(served.url, content_type=JSON).send([{"type": "nope.nope"}])
    assert (result.accepted, result.status) == (0, 422)


def test_gzip_and_json_array(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """gzip=True compresses the body and the sidecar commits the same events."""
    assert Client(served.url, gzip=True, content_type=JSON).send([EVENT, EVENT]).accepted == 2
    assert len(fake_shipper.committed) == 2


def test_unauthorised_is_not_retried(served_with_token: ServedApp) -> None:
    """A 401 raises RequestRejected with the sidecar's message on the first attempt."""
    sleeps: list[float] = []
    with pytest.raises(RequestRejected) as caught:
        Client(served_with_token.url, token="wrong", sleep=sleeps.append).send([EVENT])
    assert caught.value.status == 401 and "invalid bearer token" in caught.value.message
    assert sleeps == []
    assert Client(served_with_token.url, token="s3cret-new").send([EVENT]).accepted == 1


def test_full_buffer_honours_retry_after(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """A 503 with Retry-After waits exactly that long (no backoff guess), then the resend is accepted."""
    fake_shipper.full = True
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        fake_shipper.full = False

    assert Client(served.url, sleep=sleep).send([EVENT]).accepted == 1
    assert sleeps == [3.0]


def test_server_errors_back_off_exponentially_then_give_up(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """5xx answers are retried with bounded, growing jittered waits, and the last cause is reported."""
    fake_shipper.raise_next = [RuntimeError("boom")] * 4
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, initial=1.0, max=2.0)
    with pytest.raises(SidecarUnavailable) as caught:
        Client(served.url, retry=policy, sleep=sleeps.append).send([EVENT])
    assert caught.value.status == 500 and "after 4 attempt(s)" in caught.value.message
    assert len(sleeps) == 3 and all(0 <= s <= 2.0 + 1.0 for s in sleeps)
    assert fake_shipper.committed == []


def test_connection_refused_is_retried_with_a_clear_message() -> None:
    """With nothing listening, every attempt is made and the error says how to start the sidecar."""
    sleeps: list[float] = []
    client = Client(f"http://127.0.0.1:{_closed_port()}", retry=RetryPolicy(attempts=3), sleep=sleeps.append)
    with pytest.raises(SidecarUnavailable, match="authlog run"):
        client.send([EVENT])
    assert len(sleeps) == 2
    assert not Client(client.url, retry=NO_RETRY).ready()


def test_status_and_dead_letters(served: ServedApp) -> None:
    """status() and dead_letters() return the decoded documents."""
    client = Client(served.url)
    assert client.status()["sinks"]["local"]["state"] == "active"
    assert client.dead_letters("local", limit=5) == []
    assert client.ready()


def test_bad_url_is_refused() -> None:
    """A URL that is not http(s) is a ValueError naming the expected shape."""
    with pytest.raises(ValueError, match="http://127.0.0.1:8787"):
        Client("127.0.0.1:8787")


def test_one_client_shared_by_threads(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """Threads sharing one Client each get their own keep-alive connection, so concurrent sends all land."""
    client = Client(served.url)
    results: list[int] = []

    def send() -> None:
        for _ in range(5):
            results.append(client.send([EVENT, EVENT]).accepted)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert results == [2] * 20 and len(fake_shipper.committed) == 40
