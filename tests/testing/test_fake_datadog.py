"""FakeDatadog, driven by the real datadog-api-client over a socket."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException, ForbiddenException, ServiceException
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.content_encoding import ContentEncoding
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem

from shippers.testing.fake_datadog import (
    MAX_ITEMS_PER_REQUEST,
    MAX_LOG_BYTES,
    MAX_PAYLOAD_BYTES,
    FakeDatadog,
)

KEY = "test-dd-key"
NOW = 1_750_000_000.0  # the fake's injected clock, epoch seconds
NOW_MS = int(NOW * 1000)

Send = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDatadog]:
    with FakeDatadog(api_key=KEY, clock=lambda: NOW) as fake:
        yield fake


@pytest.fixture
def dd(server: FakeDatadog) -> FakeDatadog:
    server.reset()
    return server


@pytest.fixture
def send(dd: FakeDatadog) -> Send:
    """Submit logs through the real SDK: ``send(items, key=..., encoding=...)``."""

    def _send(
        items: list[HTTPLogItem], *, key: str | None = KEY, encoding: ContentEncoding = ContentEncoding.GZIP
    ) -> dict[str, Any]:
        cfg = Configuration(host=dd.url)
        if key is not None:
            cfg.api_key["apiKeyAuth"] = key
        cfg.enable_retry = False
        with ApiClient(cfg) as client:
            return LogsApi(client).submit_log(body=HTTPLog(items), content_encoding=encoding)

    return _send


def login(message: str = "login ok", **attrs: Any) -> HTTPLogItem:
    return HTTPLogItem(
        message=message,
        ddsource="authlog",
        ddtags="env:test",
        hostname="web-1",
        service="auth",
        usr={"id": "u"},
        evt={"name": "login.completed"},
        timestamp=NOW_MS,
        **attrs,
    )


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url + "/api/v2/logs", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_accepted_log_is_recorded_with_nested_attributes(dd: FakeDatadog, send: Send) -> None:
    """A gzip-encoded submit_log gets 202 and the fake stores the item with its nested attributes intact."""
    assert send([login()]) == {}

    [item] = dd.items()
    assert item["message"] == "login ok"
    assert item["usr"] == {"id": "u"}
    assert item["evt"] == {"name": "login.completed"}
    assert item["timestamp"] == NOW_MS
    assert (item["ddsource"], item["ddtags"], item["hostname"], item["service"]) == (
        "authlog", "env:test", "web-1", "auth",
    )  # fmt: skip
    [req] = dd.requests()
    assert req.status == 202
    assert req.api_key_sent
    assert req.api_key_ok
    assert req.content_encoding == "gzip"
    assert req.content_type == "application/json"
    assert req.item_count == 1


def test_request_record_measures_the_uncompressed_payload(dd: FakeDatadog, send: Send) -> None:
    """The recorded size is the uncompressed body, so tests can assert batches stay under the 5 MB limit."""
    send([login("x" * 10_000)])

    [req] = dd.requests()
    assert req.wire_bytes is not None
    assert req.wire_bytes < 1_000
    assert req.uncompressed_bytes > 10_000
    assert all(r.uncompressed_bytes <= MAX_PAYLOAD_BYTES for r in dd.requests())


def test_deflate_and_identity_bodies_are_accepted(dd: FakeDatadog, send: Send) -> None:
    """The intake also takes deflate and uncompressed bodies."""
    send([login("a")], encoding=ContentEncoding.DEFLATE)
    send([login("b")], encoding=ContentEncoding.IDENTITY)

    assert [i["message"] for i in dd.items()] == ["a", "b"]
    assert [r.content_encoding for r in dd.requests()] == ["deflate", "identity"]


def test_exactly_1000_items_are_accepted(dd: FakeDatadog, send: Send) -> None:
    """A full batch of MAX_ITEMS_PER_REQUEST logs is within the limit."""
    send([login(str(i)) for i in range(MAX_ITEMS_PER_REQUEST)])

    assert len(dd.items()) == MAX_ITEMS_PER_REQUEST


def test_1001_items_get_413(dd: FakeDatadog, send: Send) -> None:
    """One log over the array limit is rejected whole with 413, which the SDK raises as ApiException."""
    with pytest.raises(ApiException) as caught:
        send([login(str(i)) for i in range(MAX_ITEMS_PER_REQUEST + 1)])

    assert caught.value.status == 413
    assert dd.items() == []
    assert dd.requests()[0].item_count == MAX_ITEMS_PER_REQUEST + 1


def test_payload_over_5_mib_uncompressed_gets_413(dd: FakeDatadog, send: Send) -> None:
    """The size limit applies to the uncompressed payload even when the wire body is tiny (gzip)."""
    big = "y" * (MAX_LOG_BYTES - 1_000)
    with pytest.raises(ApiException) as caught:
        send([login(big) for _ in range(6)])

    assert caught.value.status == 413
    [req] = dd.requests()
    assert req.uncompressed_bytes > MAX_PAYLOAD_BYTES
    assert req.wire_bytes is not None
    assert req.wire_bytes < MAX_PAYLOAD_BYTES // 100
    assert dd.items() == []


def test_log_over_1_mib_is_accepted_truncated_and_counted(dd: FakeDatadog, send: Send) -> None:
    """Like the intake, an oversized log still gets 202 but is stored truncated and counted in ``truncated``."""
    send([login("z" * (MAX_LOG_BYTES + 10)), login("small")])

    assert dd.truncated == 1
    cut, small = dd.items()
    assert len(json.dumps(cut, separators=(",", ":")).encode()) <= MAX_LOG_BYTES
    assert cut["message"].startswith("zzz")
    assert cut["usr"] == {"id": "u"}
    assert small["message"] == "small"
    assert dd.requests()[0].truncated == 1


def test_wrong_key_gets_403_forbidden_exception(dd: FakeDatadog, send: Send) -> None:
    """A wrong DD-API-KEY is answered 403, which the SDK raises as ForbiddenException."""
    with pytest.raises(ForbiddenException) as caught:
        send([login()], key="not-the-key")

    assert caught.value.status == 403
    assert caught.value.body == {"errors": ["Forbidden"]}
    assert dd.items() == []
    [req] = dd.requests()
    assert req.api_key_sent
    assert not req.api_key_ok


def test_missing_key_gets_403(dd: FakeDatadog, send: Send) -> None:
    """Without a DD-API-KEY header the intake also answers 403."""
    with pytest.raises(ForbiddenException):
        send([login()], key=None)

    assert not dd.requests()[0].api_key_sent


def test_throttle_gives_429_with_retry_after_visible_on_the_exception(dd: FakeDatadog, send: Send) -> None:
    """throttle_next answers 429; the SDK raises a plain ApiException with Retry-After and X-Ratelimit-* in .headers."""
    dd.throttle_next(retry_after=7)

    with pytest.raises(ApiException) as caught:
        send([login()])

    exc = caught.value
    assert type(exc) is ApiException
    assert exc.status == 429
    assert exc.headers is not None
    headers = {k.lower(): v for k, v in exc.headers.items()}  # a plain dict: look up case-insensitively
    assert headers["retry-after"] == "7"
    assert headers["x-ratelimit-reset"] == "7"
    assert headers["x-ratelimit-remaining"] == "0"
    assert {"x-ratelimit-limit", "x-ratelimit-period"} <= headers.keys()
    assert dd.items() == []


def test_faults_are_consumed_in_order_then_requests_succeed(dd: FakeDatadog, send: Send) -> None:
    """Queued faults answer the next requests one each, in order; the request after them is accepted."""
    dd.fail_next(status=503)
    dd.fail_next(status=408)
    dd.forbid_next()

    with pytest.raises(ServiceException) as unavailable:
        send([login()])
    with pytest.raises(ApiException) as timeout:
        send([login()])
    with pytest.raises(ForbiddenException):
        send([login()])
    send([login("finally")])

    assert unavailable.value.status == 503
    assert timeout.value.status == 408
    assert [r.status for r in dd.requests()] == [503, 408, 403, 202]
    assert [i["message"] for i in dd.items()] == ["finally"]


def test_500_is_a_service_exception(dd: FakeDatadog, send: Send) -> None:
    """A 500 is raised as ServiceException, the SDK's class for every 5xx."""
    dd.fail_next(status=500)

    with pytest.raises(ServiceException) as caught:
        send([login()])

    assert caught.value.status == 500


def test_fail_next_refuses_a_status_the_intake_does_not_retry(dd: FakeDatadog) -> None:
    """fail_next only injects the retryable statuses, so a typo cannot fake an impossible answer."""
    with pytest.raises(ValueError, match="status must be one of"):
        dd.fail_next(status=404)


def test_invalid_json_gets_400(dd: FakeDatadog) -> None:
    """A body that is not JSON is answered 400 and nothing is stored."""
    status, body = post_raw(dd.url, b"{not json", {"DD-API-KEY": KEY, "Content-Type": "application/json"})

    assert (status, body) == (400, {"errors": ["Bad Request"]})
    assert dd.items() == []


def test_corrupt_gzip_gets_400(dd: FakeDatadog) -> None:
    """A body that claims gzip but is not gzip is answered 400."""
    headers = {"DD-API-KEY": KEY, "Content-Type": "application/json", "Content-Encoding": "gzip"}

    status, _ = post_raw(dd.url, b"definitely not gzip", headers)

    assert status == 400


def test_single_object_body_is_one_log(dd: FakeDatadog) -> None:
    """The intake accepts a single JSON object as one log, gzip- or deflate-encoded."""
    headers = {"DD-API-KEY": KEY, "Content-Type": "application/json"}
    status, body = post_raw(dd.url, gzip.compress(b'{"message":"one"}'), {**headers, "Content-Encoding": "gzip"})
    post_raw(dd.url, zlib.compress(b'[{"message":"two"}]'), {**headers, "Content-Encoding": "deflate"})

    assert (status, body) == (202, {})
    assert [i["message"] for i in dd.items()] == ["one", "two"]


def test_log_older_than_18_hours_is_accepted_but_dropped(dd: FakeDatadog, send: Send) -> None:
    """A log stamped more than 18 h before the fake's clock gets 202 but is not stored, like Datadog drops it."""
    stale = HTTPLogItem(message="stale", timestamp=NOW_MS - 19 * 3600 * 1000)
    recent = HTTPLogItem(message="recent", timestamp=NOW_MS - 17 * 3600 * 1000)

    send([stale, recent])

    assert [i["message"] for i in dd.items()] == ["recent"]
    assert [i["message"] for i in dd.dropped()] == ["stale"]


def test_ddtags_query_parameter_is_recorded(dd: FakeDatadog) -> None:
    """The ``ddtags`` query parameter the SDK can send is kept on the request record."""
    cfg = Configuration(host=dd.url)
    cfg.api_key["apiKeyAuth"] = KEY
    with ApiClient(cfg) as client:
        LogsApi(client).submit_log(body=HTTPLog([login()]), ddtags="team:auth")

    assert dd.requests()[0].ddtags == "team:auth"


def test_reset_forgets_items_requests_and_faults(dd: FakeDatadog, send: Send) -> None:
    """reset() returns the fake to its initial state, including queued faults."""
    send([login("z" * (MAX_LOG_BYTES + 1))])
    dd.throttle_next(3)

    dd.reset()

    assert (dd.items(), dd.requests(), dd.dropped(), dd.truncated) == ([], [], [], 0)
    send([login()])
    assert dd.requests()[0].status == 202
