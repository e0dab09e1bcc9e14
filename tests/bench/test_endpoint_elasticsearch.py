"""The counting _bulk endpoint, driven by the real elasticsearch v9 client and by the shipper's adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import elasticsearch
import msgspec
from bench_testkit import ship_samples

from bench.endpoints.elasticsearch import ElasticsearchApp, _operations, start_elasticsearch
from bench.endpoints.filter_path import compile_filter, filtered
from bench.endpoints.http_core import Request
from bench.endpoints.process import Endpoint

FILTER = "errors,items.*.status,items.*.error"  # what adapters/elasticsearch asks for
START = start_elasticsearch


def creates(index: str, *ids: str) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for doc_id in ids:
        operations += [{"create": {"_index": index, "_id": doc_id}}, {"@timestamp": "2026-01-01T00:00:00Z", "n": doc_id}]
    return operations


def statuses(answer: Any) -> list[int]:
    return [next(iter(item.values()))["status"] for item in answer["items"]]


def test_one_bulk_is_counted_and_a_repeated_id_is_a_409(endpoint: Endpoint) -> None:
    """Creates of new _ids are 201 items (product header on), a resent _id is a 409; the count says 3 stored, 1 refused."""
    client = elasticsearch.Elasticsearch(endpoint.url, max_retries=0, http_compress=True)
    first = client.bulk(operations=creates("authlog", "a", "b", "c"))
    assert first.meta.headers["X-Elastic-Product"] == "Elasticsearch"
    assert statuses(first) == [201, 201, 201] and first["errors"] is False
    assert first["items"][0]["create"]["_id"] == "a" and first["items"][0]["create"]["result"] == "created"
    again = client.bulk(operations=creates("authlog", "c"), filter_path=FILTER)
    assert again.body == {"errors": True, "items": [{"create": {"status": 409, "error": again["items"][0]["create"]["error"]}}]}
    assert again["items"][0]["create"]["error"]["type"] == "version_conflict_engine_exception"
    counted = endpoint.count()
    assert (counted.events, counted.distinct, counted.refused, counted.requests) == (3, 3, 1, 2)
    assert counted.exactly_once(3)


def test_a_template_with_data_stream_is_acknowledged_and_items_name_the_backing_index(endpoint: Endpoint) -> None:
    """PUT _index_template answers {"acknowledged": true}; a matching name becomes a data stream (.ds-...)."""
    client = elasticsearch.Elasticsearch(endpoint.url, max_retries=0)
    ack = client.indices.put_index_template(name="authlog-logs", body={"index_patterns": ["logs-authlog-*"], "data_stream": {}})
    assert ack.body == {"acknowledged": True}
    answer = client.bulk(operations=creates("logs-authlog-default", "x"))
    assert answer["items"][0]["create"]["_index"].startswith(".ds-logs-authlog-default-")
    assert client.info()["version"]["number"].startswith("9.")


def test_the_shippers_elasticsearch_sink_delivers_into_it_exactly_once(endpoint: Endpoint, tmp_path: Path) -> None:
    """The real adapter (template, gzip bulk, filter_path) gets documented successes: 40 delivered, 40 stored once."""
    status = ship_samples(tmp_path, {"type": "elasticsearch", "hosts": [endpoint.url], "index": "authlog"}, 40)
    assert (status["delivered"], status["deadLettered"]) == (40, 0)
    assert endpoint.count().exactly_once(40)


def test_the_fast_path_answers_exactly_as_item_by_item() -> None:
    """For creates of new _ids, the one-go items equal _apply's, with and without filter_path."""
    ops = b"".join(msgspec.json.encode(op) + b"\n" for op in creates("authlog", "p", "q", "r"))
    fast, slow = ElasticsearchApp(), ElasticsearchApp()
    operations = _operations([line for line in ops.split(b"\n") if line])
    for spec in (None, FILTER, "items.*._id"):
        fast.reset()
        slow.reset()
        tree = compile_filter(spec)
        stored: list[str | None] = []
        one_go = fast._all_new_creates(operations, None, tree, stored)
        assert one_go is not None and stored == ["p", "q", "r"]
        each = [slow._apply(action, target, None, source, []) for action, target, source in operations]
        assert filtered({"items": one_go}, tree) == filtered({"items": each}, tree)


def test_filter_path_keeps_only_what_it_names() -> None:
    """items.*.status keeps each item's status under its action; an unsupported filter answers in full."""
    answer = {"took": 3, "errors": False, "items": [{"create": {"_id": "a", "status": 201}}, {"index": {"_id": "b", "status": 200}}]}
    assert filtered(answer, compile_filter(FILTER)) == {"errors": False, "items": [{"create": {"status": 201}}, {"index": {"status": 200}}]}
    assert filtered(answer, compile_filter("items.*._i*")) == {"items": [{"create": {"_id": "a"}}, {"index": {"_id": "b"}}]}
    assert filtered(answer, compile_filter("-took")) == answer
    assert filtered(answer, compile_filter("nothing")) == {}


def test_a_body_without_a_supported_content_type_is_a_406() -> None:
    """As the cluster does: text/plain bulk bodies are refused with 406, and nothing is counted."""
    app = ElasticsearchApp()
    response = app.handle(Request("POST", "/_bulk", {}, {"content-type": "text/plain"}, b'{"create":{}}\n{}\n'))
    assert response.status == 406 and response.headers["X-Elastic-Product"] == "Elasticsearch"
    assert app.counted().events == 0
