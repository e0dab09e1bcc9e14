"""The Elasticsearch/OpenSearch stand-in, driven by the real clients over a socket."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import elasticsearch
import opensearchpy
import pytest

from shippers.testing.fake_elasticsearch import FakeElasticsearch

DATA_STREAM_TEMPLATE: dict[str, Any] = {"index_patterns": ["logs-authlog-*"], "data_stream": {}, "priority": 200}


def es_client(server: FakeElasticsearch, **options: Any) -> elasticsearch.Elasticsearch:
    return elasticsearch.Elasticsearch(server.url, max_retries=0, retry_on_status=(), **options)


def creates(index: str, docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Bulk operations that `create` each document under its `_id`."""
    operations: list[dict[str, Any]] = []
    for doc_id, source in docs.items():
        operations += [{"create": {"_index": index, "_id": doc_id}}, source]
    return operations


def statuses(response: Any) -> list[int]:
    return [next(iter(item.values()))["status"] for item in response["items"]]


def raw_request(
    server: FakeElasticsearch, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- Elasticsearch flavor -----------------------------------------------------------


def test_info_and_ping_pass_the_client_product_check(es: FakeElasticsearch) -> None:
    """The v9 client accepts the fake as Elasticsearch 9 for GET / and HEAD /."""
    client = es_client(es)
    info = client.info()
    assert info["version"]["number"] == "9.1.0"
    assert info["tagline"] == "You Know, for Search"
    assert info.meta.headers["X-Elastic-Product"] == "Elasticsearch"
    assert info.meta.headers["Content-Type"].startswith("application/vnd.elasticsearch+json")
    assert client.ping() is True


def test_gzip_bulk_create_stores_documents_and_records_the_wire_format(es: FakeElasticsearch) -> None:
    """A gzip-compressed bulk of creates is stored by `_id`, and the log shows gzip and the compat media types."""
    client = es_client(es, http_compress=True)
    docs = {str(i): {"message": "login ok", "@timestamp": "2025-01-01T00:00:00Z"} for i in range(20)}
    response = client.bulk(operations=creates("authlog", docs))
    assert response["errors"] is False
    assert statuses(response) == [201] * 20
    assert response["items"][0]["create"]["result"] == "created"
    assert es.documents("authlog") == docs
    bulk = es.requests[-1]
    assert bulk.path == "/_bulk"
    assert bulk.headers["content-encoding"] == "gzip"
    assert bulk.headers["content-type"] == "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
    assert bulk.body_size < len(json.dumps(docs))  # the wire size, compressed


def test_duplicate_create_is_an_item_409_version_conflict(es: FakeElasticsearch) -> None:
    """Creating an `_id` that exists fails that item alone with 409 version_conflict_engine_exception."""
    client = es_client(es)
    client.bulk(operations=creates("authlog", {"x": {"n": 1}}))
    response = client.bulk(operations=creates("authlog", {"x": {"n": 2}, "y": {"n": 3}}))
    assert response["errors"] is True
    assert statuses(response) == [409, 201]
    error = response["items"][0]["create"]["error"]
    assert error["type"] == "version_conflict_engine_exception"
    assert error["reason"] == "[x]: version conflict, document already exists (current version [1])"
    assert es.documents("authlog")["x"] == {"n": 1}


def test_index_and_delete_ops_update_and_remove_documents(es: FakeElasticsearch) -> None:
    """`index` overwrites (200 updated, version 2) and `delete` removes (200) or reports not_found (404)."""
    client = es_client(es)
    operations: list[dict[str, Any]] = [
        {"index": {"_index": "authlog", "_id": "a"}},
        {"n": 1},
        {"index": {"_index": "authlog", "_id": "a"}},
        {"n": 2},
        {"delete": {"_index": "authlog", "_id": "gone"}},
    ]
    response = client.bulk(operations=operations)
    assert statuses(response) == [201, 200, 404]
    assert response["items"][1]["index"]["result"] == "updated"
    assert response["items"][1]["index"]["_version"] == 2
    assert response["errors"] is False  # not_found is a result, not an error
    assert es.documents("authlog") == {"a": {"n": 2}}
    deleted = client.bulk(operations=[{"delete": {"_index": "authlog", "_id": "a"}}])
    assert statuses(deleted) == [200] and es.documents("authlog") == {}


def test_malformed_bulk_is_a_whole_request_400(es: FakeElasticsearch) -> None:
    """A bulk body without its final newline is refused whole, as Elasticsearch does."""
    headers = {"Content-Type": "application/x-ndjson"}
    status, body = raw_request(es, "POST", "/_bulk", b'{"create": {"_index": "a"}}\n{}', headers)
    assert status == 400
    assert body["error"]["reason"] == "The bulk request must be terminated by a newline [\\n]"


def test_index_template_put_get_and_missing(es: FakeElasticsearch) -> None:
    """A composable index template is stored and read back; an unknown one is a 404."""
    client = es_client(es)
    assert client.indices.put_index_template(name="authlog", **DATA_STREAM_TEMPLATE)["acknowledged"] is True
    got = client.indices.get_index_template(name="authlog")
    assert got["index_templates"][0]["index_template"]["index_patterns"] == ["logs-authlog-*"]
    assert client.indices.exists_index_template(name="authlog")
    assert not client.indices.exists_index_template(name="nope")
    with pytest.raises(elasticsearch.NotFoundError):
        client.indices.get_index_template(name="nope")


def test_data_stream_accepts_only_creates_with_a_timestamp(es: FakeElasticsearch) -> None:
    """A name matching a data-stream template takes `create` with @timestamp and refuses `index` and untimed docs."""
    client = es_client(es)
    client.indices.put_index_template(name="authlog", **DATA_STREAM_TEMPLATE)
    stream = "logs-authlog-default"
    operations: list[dict[str, Any]] = [
        {"create": {"_index": stream, "_id": "1"}},
        {"@timestamp": "2025-01-01T00:00:00Z", "message": "ok"},
        {"index": {"_index": stream, "_id": "2"}},
        {"@timestamp": "2025-01-01T00:00:00Z"},
        {"create": {"_index": stream, "_id": "3"}},
        {"message": "no timestamp"},
    ]
    response = client.bulk(operations=operations)
    assert statuses(response) == [201, 400, 400]
    assert response["items"][0]["create"]["_index"].startswith(f".ds-{stream}-")
    index_error = response["items"][1]["index"]["error"]
    assert index_error["type"] == "illegal_argument_exception"
    assert index_error["reason"] == "only write ops with an op_type of create are allowed in data streams"
    assert "@timestamp" in response["items"][2]["create"]["error"]["reason"]
    assert es.data_streams() == [stream]
    assert list(es.documents(stream)) == ["1"]
    with pytest.raises(elasticsearch.BadRequestError):
        client.indices.create(index="logs-authlog-other")


def test_rejected_items_fail_once_then_succeed_on_retry(es: FakeElasticsearch) -> None:
    """`reject_items` fails chosen ids (and positions) with per-item 429 once; the resend is created."""
    client = es_client(es)
    es.reject_items("b")
    es.reject_items(2, status=503)
    docs = {"a": {"n": 1}, "b": {"n": 2}, "c": {"n": 3}}
    first = client.bulk(operations=creates("authlog", docs))
    assert statuses(first) == [201, 429, 503]
    assert first["items"][1]["create"]["error"]["type"] == "es_rejected_execution_exception"
    assert first["items"][2]["create"]["error"]["type"] == "unavailable_shards_exception"
    retry = client.bulk(operations=creates("authlog", {"b": docs["b"], "c": docs["c"]}))
    assert statuses(retry) == [201, 201]
    assert es.documents("authlog") == docs


def test_mapping_error_fails_the_item_every_time(es: FakeElasticsearch) -> None:
    """`mapping_error_for` makes an id a permanent per-item 400 document_parsing_exception."""
    client = es_client(es)
    es.mapping_error_for("bad")
    for _ in range(2):
        response = client.bulk(operations=creates("authlog", {"bad": {"source": {"ip": "nope"}}, "good": {}}))
        error = response["items"][0]["create"]["error"]
        assert response["items"][0]["create"]["status"] == 400
        assert error["type"] == "document_parsing_exception"
        assert "failed to parse field [source.ip] of type [ip] in document with id 'bad'" in error["reason"]
    assert list(es.documents("authlog")) == ["good"]


def test_whole_request_429_carries_retry_after_and_is_consumed(es: FakeElasticsearch) -> None:
    """`throttle_next` answers one bulk with 429 + Retry-After that the client exposes; the next bulk passes."""
    client = es_client(es)
    es.throttle_next(retry_after=7)
    with pytest.raises(elasticsearch.ApiError) as caught:
        client.bulk(operations=creates("authlog", {"a": {}}))
    assert caught.value.meta.status == 429
    assert caught.value.meta.headers["Retry-After"] == "7"
    assert caught.value.body["error"]["type"] == "es_rejected_execution_exception"
    assert es.documents("authlog") == {}
    assert statuses(client.bulk(operations=creates("authlog", {"a": {}}))) == [201]


def test_whole_request_failures_come_in_queue_order(es: FakeElasticsearch) -> None:
    """Queued 429, 503 and 502 are answered in the order they were queued, then bulks pass again."""
    client = es_client(es)
    es.throttle_next(retry_after=None)
    es.fail_next(status=503)
    es.fail_next(status=502)
    seen = []
    for _ in range(3):
        with pytest.raises(elasticsearch.ApiError) as caught:
            client.bulk(operations=creates("authlog", {"a": {}}))
        seen.append(caught.value.meta.status)
        assert "Retry-After" not in caught.value.meta.headers
    assert seen == [429, 503, 502]
    assert statuses(client.bulk(operations=creates("authlog", {"a": {}}))) == [201]


def test_body_over_max_content_length_is_413(es: FakeElasticsearch, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk larger than `max_content_length` (uncompressed) gets 413 with no body, even when gzip makes it small."""
    monkeypatch.setattr(es, "max_content_length", 1024)
    docs = {str(i): {"message": "x" * 100} for i in range(20)}
    for compress in (False, True):
        with pytest.raises(elasticsearch.ApiError) as caught:
            es_client(es, http_compress=compress).bulk(operations=creates("authlog", docs))
        assert caught.value.meta.status == 413
    assert es.requests[-1].body_size < 1024  # gzip made it small on the wire
    assert es.documents("authlog") == {}


def test_slow_next_delays_the_answer(es: FakeElasticsearch) -> None:
    """`slow_next` holds a bulk answer at least that long and then answers normally."""
    client = es_client(es)
    es.slow_next(1, 0.05)
    started = time.monotonic()
    response = client.bulk(operations=creates("authlog", {"a": {}}))
    assert time.monotonic() - started >= 0.05
    assert statuses(response) == [201]


def test_count_search_and_get_by_id(es: FakeElasticsearch) -> None:
    """Stored documents are found by count, search (match_all, ids, term on _id) and GET _doc."""
    client = es_client(es)
    client.bulk(operations=creates("authlog", {"a": {"n": 1}, "b": {"n": 2}, "c": {"n": 3}}), refresh="wait_for")
    client.indices.refresh(index="authlog")
    assert client.count(index="authlog")["count"] == 3
    assert client.count(index="authlog", query={"ids": {"values": ["a", "c", "zz"]}})["count"] == 2
    assert client.count(index="authlog", query={"term": {"_id": "b"}})["count"] == 1
    hits = client.search(index="authlog", query={"ids": {"values": ["b"]}})["hits"]
    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_id"] == "b" and hits["hits"][0]["_source"] == {"n": 2}
    assert client.search(index="authlog")["hits"]["total"]["value"] == 3
    assert client.get(index="authlog", id="c")["_source"] == {"n": 3}
    with pytest.raises(elasticsearch.NotFoundError):
        client.get(index="authlog", id="zz")
    with pytest.raises(elasticsearch.NotFoundError):
        client.count(index="missing")


def test_create_index_twice_is_400_and_exists_sees_it(es: FakeElasticsearch) -> None:
    """PUT /<index> creates once; the second time is resource_already_exists_exception; HEAD tells both."""
    client = es_client(es)
    assert not client.indices.exists(index="authlog")
    assert client.indices.create(index="authlog")["acknowledged"] is True
    assert client.indices.exists(index="authlog")
    with pytest.raises(elasticsearch.BadRequestError) as caught:
        client.indices.create(index="authlog")
    assert caught.value.error == "resource_already_exists_exception"


def test_reset_forgets_everything(es: FakeElasticsearch) -> None:
    """`reset` clears documents, templates, pending faults and the request log."""
    client = es_client(es)
    client.indices.put_index_template(name="authlog", **DATA_STREAM_TEMPLATE)
    client.bulk(operations=creates("authlog", {"a": {}}))
    es.throttle_next()
    es.reject_items("b")
    es.reset()
    assert es.documents() == {} and es.index_templates() == {} and es.requests == []
    assert statuses(client.bulk(operations=creates("authlog", {"b": {}}))) == [201]


def test_mismatched_compat_versions_are_400_media_type_header_exception(es: FakeElasticsearch) -> None:
    """A compat version Elasticsearch 9 does not serve (7) is refused as Elasticsearch does."""
    headers = {
        "Content-Type": "application/vnd.elasticsearch+json; compatible-with=7",
        "Accept": "application/vnd.elasticsearch+json; compatible-with=7",
    }
    status, body = raw_request(es, "PUT", "/authlog", b"{}", headers)
    assert status == 400
    assert body["error"]["type"] == "media_type_header_exception"


# -- OpenSearch flavor --------------------------------------------------------------


def test_opensearch_bulk_and_409_with_opensearch_py(opensearch: FakeElasticsearch) -> None:
    """opensearch-py talks plain JSON to the OpenSearch flavor: info, bulk creates, and an item 409 on a duplicate."""
    client = opensearchpy.OpenSearch(hosts=[opensearch.url], max_retries=0)
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == "2.17.0"
    first = client.bulk(body=creates("authlog", {"a": {"n": 1}}))
    second = client.bulk(body=creates("authlog", {"a": {"n": 1}, "b": {"n": 2}}))
    assert statuses(first) == [201]
    assert statuses(second) == [409, 201]
    assert second["items"][0]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert opensearch.documents("authlog") == {"a": {"n": 1}, "b": {"n": 2}}
    assert opensearch.requests[-1].headers["content-type"] == "application/json"


def test_opensearch_rejects_the_elasticsearch_client(opensearch: FakeElasticsearch) -> None:
    """The v9 Elasticsearch client fails against OpenSearch: no product header, and its compat bodies get 406."""
    client = es_client(opensearch)
    with pytest.raises(elasticsearch.ApiError) as caught:
        client.bulk(operations=creates("authlog", {"a": {}}))
    assert caught.value.meta.status == 406
    assert "X-Elastic-Product" not in caught.value.meta.headers
    assert caught.value.body == {
        "error": "Content-Type header [application/vnd.elasticsearch+x-ndjson; compatible-with=9] is not supported",
        "status": 406,
    }
    with pytest.raises(elasticsearch.UnsupportedProductError):
        client.info()
    assert opensearch.documents() == {}
