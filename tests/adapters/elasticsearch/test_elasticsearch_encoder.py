"""The _bulk body: create actions with _id = event id, NDJSON lines, sizes the core can count."""

from __future__ import annotations

import json

from es_testkit import FULL_FIELDS, event, make_adapter, numbered

from adapters.elasticsearch.encoder import bulk_body, item_id


def test_item_is_a_create_action_and_its_source() -> None:
    """One item is two newline-terminated lines: create with _index and _id = event id, then the document."""
    adapter = make_adapter(hosts=["http://127.0.0.1:9"], data_stream="logs-authlog-default")
    e = event("login.completed", id="0193a5e2-abc", **FULL_FIELDS)
    item = adapter.encode_item(adapter.map(e))
    assert item.endswith(b"\n") and item.count(b"\n") == 2
    action, source = (json.loads(line) for line in item.splitlines())
    assert action == {"create": {"_index": "logs-authlog-default", "_id": "0193a5e2-abc"}}
    assert source["event"]["id"] == "0193a5e2-abc" and source["@timestamp"] == FULL_FIELDS["time"]
    assert item_id(item) == "0193a5e2-abc"


def test_index_mode_targets_the_index() -> None:
    """Without a data stream the action names the configured index."""
    adapter = make_adapter(hosts=["http://127.0.0.1:9"], index="auth-prod")
    action = json.loads(adapter.encode_item(adapter.map(event("login.completed", id="x"))).split(b"\n")[0])
    assert action["create"]["_index"] == "auth-prod"


def test_body_is_the_items_in_order_and_newline_terminated() -> None:
    """The body is exactly the items concatenated, so batch sizes equal body sizes, and ends in a newline."""
    adapter = make_adapter(hosts=["http://127.0.0.1:9"])
    items = [adapter.encode_item(adapter.map(e)) for e in numbered(50)]
    body = bulk_body(items)
    assert len(body) == sum(len(i) for i in items)
    assert body.endswith(b"\n")
    lines = body.splitlines()
    assert len(lines) == 100
    assert [json.loads(lines[i])["create"]["_id"] for i in range(0, 100, 2)] == [f"ev-{i:05d}" for i in range(50)]


def test_unicode_and_control_characters_stay_on_one_line() -> None:
    """A user agent with newlines and non-ASCII text cannot break the NDJSON framing."""
    adapter = make_adapter(hosts=["http://127.0.0.1:9"])
    e = event("login.completed", id="u", userAgent="Mozilla\n\u2028Ünïcødé", details={"k": "a\nb"})
    item = adapter.encode_item(adapter.map(e))
    assert item.count(b"\n") == 2
    assert json.loads(item.splitlines()[1])["user_agent"]["original"] == "Mozilla\n\u2028Ünïcødé"
