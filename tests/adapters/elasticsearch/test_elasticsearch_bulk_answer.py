"""The bulk answer's common shape decoded into untracked structs (adapters.elasticsearch.bulk_answer): same verdicts as plain JSON."""

from __future__ import annotations

import gc

import msgspec
import pytest

from adapters.elasticsearch import wire
from adapters.elasticsearch.bulk_answer import CreatedAnswer, decode, plain
from adapters.elasticsearch.classify import classify_bulk
from shippers.delivery.attempt import Attempt

TARGET = "logs-authlog-default"
FIXED = 1_700_000_000.0


def created(*statuses: int) -> bytes:
    return msgspec.json.encode({"errors": False, "items": [{"create": {"status": s}} for s in statuses]})


ANSWERS = [
    created(201, 201, 201),
    created(201, 200, 201),  # any 2xx acknowledges its item
    created(201, 500, 201),  # a status without an error: retried, with the item's own text
    created(201, 400, 201),
    created(201, 403, 201),
    created(201, 201),  # one item short
    created(409, 409, 409),
    b'{"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201}}]}',  # no "errors"
    b'{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},{"create":{"status":201}}]}',
    b'{"errors":false,"items":[{"index":{"status":201}},{"create":{"status":201}},{"create":{"status":201}}]}',
    b'{"errors":false,"items":[{"create":{"status":"201"}},{"create":{"status":201}},{"create":{"status":201}}]}',
    b'{"errors":false,"items":[{},{"create":{}},{"create":{"status":201}}]}',
    b'{"took":3,"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201}}]}',
    b'{"acknowledged":true}',
    b'{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":200}',
    b'[1, 2, 3]',
]


@pytest.mark.parametrize("data", ANSWERS)
def test_every_answer_gets_the_verdict_its_plain_json_gets(data: bytes) -> None:
    """Whatever the answer, the verdict of the decoded body equals the verdict of the same bytes as plain JSON."""
    fast, slow = decode(data), msgspec.json.decode(data)
    assert classify_bulk(Attempt(200, fast), 3, FIXED, TARGET) == classify_bulk(Attempt(200, slow), 3, FIXED, TARGET)
    assert plain(fast) == slow


def test_the_common_answer_is_untracked_and_any_other_is_plain_json() -> None:
    """Every item created: one tracked list for the whole answer; an answer with an error is the plain dicts, as before."""
    fast = wire._FastCompatibleJson().loads(created(*[201] * 1000))
    assert isinstance(fast, CreatedAnswer) and not gc.is_tracked(fast) and not gc.is_tracked(fast.items[0])
    assert not gc.is_tracked(fast.items[0].create)
    other = ANSWERS[8]
    assert decode(other) == msgspec.json.decode(other) and isinstance(decode(other), dict)


def test_bytes_that_are_not_json_still_fail_as_the_serializer_expects() -> None:
    """A body that is not JSON raises a ValueError (the stock loads turns it into SerializationError)."""
    with pytest.raises(ValueError):
        decode(b"<html>bad gateway</html>")
