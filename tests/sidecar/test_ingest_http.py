"""POST /v1/events over a real socket: every status code with its body, and what reaches the shipper."""

from __future__ import annotations

import gzip
import json

from sidecar_fakes import FakeShipper, ServedApp

GOOD = b'{"id": "e-1", "type": "login.completed", "userId": "u-1"}'
BAD_TYPE = b'{"type": "login.complete"}'


def test_mixed_batch_is_202_with_per_item_rejections(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """Valid items are committed and answered 202; each invalid one is listed with its index and a fix-it message."""
    status, body, _ = served.post(b"[" + GOOD + b"," + BAD_TYPE + b"]")
    assert status == 202
    assert body == {"accepted": 1, "rejected": [{"index": 1, "error": "type: unknown event type 'login.complete'; did you mean 'login.completed'?"}]}
    assert [e.id for e in fake_shipper.committed] == ["e-1"]


def test_all_rejected_is_422_with_the_same_shape(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """When no item is accepted the answer is 422 with the accepted/rejected body, and nothing is committed."""
    status, body, _ = served.post(b"[" + BAD_TYPE + b', {"type": "login.completed", "colour": "red"}]')
    assert status == 422
    assert body["accepted"] == 0
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    assert "unknown field 'colour'" in body["rejected"][1]["error"]
    assert fake_shipper.committed == []


def test_ndjson_index_is_the_line_among_non_blank_lines(served: ServedApp) -> None:
    """In NDJSON a non-JSON line is one rejected item and indexes skip blank lines."""
    body = b"\n" + GOOD + b"\n\n{not json\n\n" + BAD_TYPE + b"\n"
    status, answer, _ = served.post(body, "application/x-ndjson")
    assert status == 202
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert answer["rejected"][0]["error"].startswith("not valid JSON")


def test_bad_json_is_400(served: ServedApp) -> None:
    """An unparsable JSON body is a 400 with a message saying how to fix it."""
    status, body, _ = served.post(b'{"type": "login.completed"')
    assert status == 400
    assert body["error"].startswith("the body is not valid JSON")


def test_bad_gzip_is_400(served: ServedApp) -> None:
    """A body labelled gzip that is not gzip is a 400 naming the compression."""
    status, body, _ = served.post(b"plain text", Content_Encoding="gzip")
    assert status == 400
    assert "gzip" in body["error"]


def test_gzip_body_is_accepted(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """A gzip NDJSON body is decompressed and committed."""
    status, body, _ = served.post(gzip.compress(GOOD + b"\n" + GOOD), "application/x-ndjson", Content_Encoding="gzip")
    assert (status, body) == (202, {"accepted": 2, "rejected": []})
    assert len(fake_shipper.committed) == 2


def test_body_over_limit_is_413(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """A body over server.max_body_bytes is refused with 413 before anything is committed."""
    status, body, _ = served.post(b"[" + b",".join([GOOD] * 2000) + b"]")
    assert status == 413
    assert "server.max_body_bytes" in body["error"]
    assert fake_shipper.commits == 0


def test_gzip_bomb_is_413(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """A small gzip body that inflates past max_body_bytes is a 413, counted after decompression."""
    bomb = gzip.compress(b" " * (20 * 1024 * 1024) + GOOD)
    status, body, _ = served.post(bomb, Content_Encoding="gzip")
    assert status == 413
    assert "decompressed" in body["error"]
    assert fake_shipper.commits == 0


def test_too_many_events_is_413(served: ServedApp) -> None:
    """More events than server.max_events_per_request is a 413 naming the key."""
    status, body, _ = served.post(b"\n".join([GOOD] * 101), "application/x-ndjson")
    assert status == 413
    assert "max_events_per_request is 100" in body["error"]


def test_unsupported_content_type_and_encoding_are_415(served: ServedApp) -> None:
    """Other media types and encodings are a 415 that says what to send."""
    status, body, _ = served.post(GOOD, "text/plain")
    assert status == 415 and "application/x-ndjson" in body["error"]
    status, body, _ = served.post(GOOD, Content_Encoding="br")
    assert status == 415 and "gzip" in body["error"]


def test_full_sink_is_503_with_retry_after(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """BufferFullError becomes 503 with a whole-second Retry-After (rounded up) and nothing stored."""
    fake_shipper.full = True
    status, body, headers = served.post(GOOD)
    assert status == 503
    assert headers["Retry-After"] == "3"
    assert "full" in body["error"] and "retry" in body["error"]


def test_draining_sidecar_is_503(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """After SIGTERM sets the closing flag, new ingest gets 503 + Retry-After instead of being half-handled."""
    from shippers.sidecar.app import STATE

    assert served._runner is not None
    served._runner.app[STATE].closing = True
    status, body, headers = served.post(GOOD)
    assert status == 503 and "shutting down" in body["error"] and headers["Retry-After"]
    assert fake_shipper.commits == 0


def test_probes_metrics_and_unknown_routes(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """healthz is 200, readyz follows shipper.ready(), metrics is Prometheus text, unknown routes are JSON 404s."""
    assert served.request("GET", "/healthz")[0] == 200
    assert served.request("GET", "/readyz")[0] == 200
    fake_shipper.is_ready = False
    assert served.request("GET", "/readyz")[0] == 503
    status, headers, body = served.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"authlog_sink_delivered_total" in body or b"authlog_events_received" in body
    status, _, body = served.request("GET", "/v2/nothing")
    assert status == 404 and "POST /v1/events" in json.loads(body)["error"]
    status, _, _ = served.request("GET", "/v1/events")
    assert status == 405


def test_status_and_dlq(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """GET /v1/status returns the shipper's status; /v1/dlq validates sink and limit and returns letters with events."""
    from sidecar_fakes import FakeLetter

    fake_shipper.letters.append(FakeLetter(7, "local", 3, "too large", 1.5, fake_shipper.validator.decode(GOOD)))
    status, _, body = served.request("GET", "/v1/status")
    assert status == 200 and json.loads(body)["sinks"]["local"]["deadLettered"] == 1
    status, _, body = served.request("GET", "/v1/dlq?sink=local&limit=10")
    letters = json.loads(body)["deadLetters"]
    assert status == 200 and letters[0]["reason"] == "too large" and letters[0]["event"]["id"] == "e-1"
    assert served.request("GET", "/v1/dlq?sink=nope")[0] == 400
    assert served.request("GET", "/v1/dlq?limit=0")[0] == 400
    assert served.request("GET", "/v1/dlq?limit=abc")[0] == 400


def test_an_event_nested_too_deeply_is_never_a_5xx(served: ServedApp, fake_shipper: FakeShipper) -> None:
    """An item whose details nest past the decoder's depth limit is rejected alone, naming the problem; its neighbour is kept."""
    body = GOOD + b'\n{"type": "login.completed", "details": ' + b"[" * 10_000 + b"\n"
    status, answer, _ = served.post(body, "application/x-ndjson")
    assert status == 202 and answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert "deep" in answer["rejected"][0]["error"]
