"""A local stand-in of Elasticsearch 9 (and OpenSearch 2) for tests and demos.

What it is for: the Elasticsearch/OpenSearch adapter is tested with the real
``elasticsearch`` v9 client (or ``opensearch-py``) over a real socket, with no
cluster to run. Faults are queued from the test thread and hit the next
``_bulk`` requests, so retry, throttling and dead-letter paths can be driven
deterministically::

    with FakeElasticsearch() as es:
        client = Elasticsearch(es.url, max_retries=0, retry_on_status=())
        es.throttle_next(retry_after=2)         # next bulk: whole-request 429
        es.reject_items("id-3")                 # id-3's next appearance: item 429
        es.mapping_error_for("id-7")            # id-7: item 400, every time

Faithful, as the clients see it:

* ``X-Elastic-Product: Elasticsearch`` on every response of the Elasticsearch
  flavor (the v9 client raises ``UnsupportedProductError`` on a 2xx without it);
  none from OpenSearch, nor on a 502/504 (those come from a proxy, see below).
* Media types: Elasticsearch takes ``application/json``, ``application/x-ndjson``
  and ``application/vnd.elasticsearch+json|x-ndjson; compatible-with=8|9`` and
  answers a compat request with the compat media type; a body without a
  supported ``Content-Type`` gets OpenSearch's and Elasticsearch's ``406`` with
  ``{"error": "Content-Type header [...] is not supported", "status": 406}``.
  OpenSearch knows no ``vnd.elasticsearch`` type, so it gives that ``406`` to the
  v9 client's bodies (what ``RestController.sendContentTypeErrorMessage`` sends;
  it ignores an ``Accept`` it does not know and answers JSON).
* ``_bulk``: NDJSON (plain or gzip/deflate), ``create`` / ``index`` / ``delete``,
  per-item ``status``; ``create`` on an existing ``_id`` -> item ``409
  version_conflict_engine_exception``; ``errors`` is true when any item failed;
  indices are auto-created; bad index names are item ``400``s.
* Data streams: a composable template with ``data_stream`` makes a matching
  name a data stream on first write; only ``create`` is allowed, ``@timestamp``
  is required, and items report the backing index (``.ds-<name>-...-000001``).
* ``http.max_content_length``: a body larger than it (counted after
  decompression, as the reference says: "the limit applies to the HTTP request
  body size before compression") gets ``413`` with an EMPTY body, as the
  cluster's Netty layer answers (elastic/elasticsearch#76705).
* Error bodies: ``{"error": {"root_cause": [...], "type", "reason", ...}, "status"}``
  with the exception types the real cluster uses (OpenSearch still says
  ``mapper_parsing_exception`` where Elasticsearch 8.8+ says ``document_parsing_exception``).

Simplified: one node, one shard, no mappings (a "mapping error" happens only
when injected), no security (auth headers are ignored), no ingest pipelines,
aliases or rollover. Documents are searchable at once (as if
``refresh_interval`` were 0). Queries: ``match_all``, ``ids``, ``term``/``terms``
(on ``_id`` or a source field). ``update`` is answered with an item ``400``.
A ``502``/``504`` is shaped like a proxy's answer in front of the cluster
(``{"ok": false, "message": ...}``). A bare cluster sends no ``Retry-After``;
the fake sends one when asked (as proxies and hosted services may). A corrupt
gzip body gets a ``400`` (the real node drops the connection). Faults apply
to ``_bulk`` only.
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import json
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from aiohttp import web
from aiohttp.typedefs import Handler

from shippers.testing._http_body import read_body
from shippers.testing.fake_server import LOOPBACK, FakeServer

Flavor = Literal["elasticsearch", "opensearch"]
Json = dict[str, Any]
_Handler = Callable[[web.Request, bytes], Awaitable[web.Response]]

# Why: the versions the adapter is written against (Elasticsearch 9.x, OpenSearch 2.x).
ELASTICSEARCH_VERSION = "9.1.0"
OPENSEARCH_VERSION = "2.17.0"
# Why: Elasticsearch's default `http.max_content_length` (100mb).
DEFAULT_MAX_CONTENT_LENGTH = 100 * 1024 * 1024
# Why: the v9 client refuses a 2xx answer that lacks this header (product check).
PRODUCT_HEADER = "X-Elastic-Product"
PRODUCT_NAME = "Elasticsearch"
# Why: REST API compatibility: Elasticsearch N serves compatible-with=N and N-1.
COMPATIBLE_VERSIONS = frozenset({8, 9})
CURRENT_COMPAT_VERSION = 9
# Why: the media types both products accept without a vendor prefix.
PLAIN_MEDIA_TYPES = frozenset({"application/json", "application/x-ndjson"})
COMPAT_MEDIA_TYPE = re.compile(
    r"^application/vnd\.elasticsearch\+(json|x-ndjson)\s*;\s*compatible-with\s*=\s*(\d+)\s*$",
    re.IGNORECASE,
)
# Why: `size` defaults to 10 hits in _search.
DEFAULT_SEARCH_SIZE = 10
# Why: the cap of the indexing-pressure limit (10% of a 1 GiB heap) that real 429 reasons quote.
INDEXING_PRESSURE_LIMIT_BYTES = 107_374_182
# Why: the whole-request failures a cluster (503) or the proxy in front of it (502/504) returns.
WHOLE_REQUEST_FAILURE_STATUSES = frozenset({502, 503, 504})
# Why: the per-item failures that are worth retrying (rejected by the write pool, shard not ready).
ITEM_REJECTION_ERRORS: dict[int, tuple[str, str]] = {
    429: (
        "es_rejected_execution_exception",
        (
            "rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, "
            f"primary_operation_bytes=0, max_coordinating_and_primary_bytes={INDEXING_PRESSURE_LIMIT_BYTES}]"
        ),
    ),
    500: ("illegal_state_exception", "shard failure during bulk write"),
    503: ("unavailable_shards_exception", "[{index}][0] primary shard is not active Timeout: [1m]"),
}
# Why: Elasticsearch rejects these characters (and upper case) in index names.
INVALID_INDEX_NAME_CHARS = frozenset('\\/*?"<>| ,#:')
# Why: the headers worth asserting on (compression, media types, client identity).
RECORDED_HEADERS = (
    "accept",
    "content-type",
    "content-encoding",
    "content-length",
    "user-agent",
    "x-elastic-client-meta",
)


class RecordedRequest(NamedTuple):
    """One request as the fake received it (headers lower-cased, a useful subset)."""

    method: str
    path: str
    headers: dict[str, str]
    body_size: int  # bytes on the wire (compressed size when gzip was sent)
    query: dict[str, str]


@dataclass(frozen=True)
class _RequestFault:
    status: int
    retry_after: float | None


@dataclass
class _Index:
    """One index or data stream: its documents by `_id`, in arrival order."""

    name: str
    concrete_name: str  # the backing index of a data stream, else the name itself
    data_stream_template: str | None = None
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex[:22])
    docs: dict[str, Json] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    seq_no: int = 0

    def next_seq_no(self) -> int:
        self.seq_no += 1
        return self.seq_no - 1


class _BadRequest(Exception):
    """A whole-request error answered in the cluster's error shape."""

    def __init__(self, status: int, error: Json) -> None:
        super().__init__(error["reason"])
        self.status = status
        self.error = error


def _error(type_: str, reason: str, **extra: Any) -> Json:
    return {"type": type_, "reason": reason, **extra}


def _error_body(status: int, error: Json) -> Json:
    root_cause = {key: value for key, value in error.items() if key != "caused_by"}
    return {"error": {"root_cause": [root_cause], **error}, "status": status}


def _base_media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _compat_version(value: str | None) -> int | None:
    match = COMPAT_MEDIA_TYPE.match(value.strip()) if value else None
    return int(match.group(2)) if match else None


def _field(source: Json, dotted: str) -> Any:
    """Look up ``a.b.c`` as a flat key or as nested objects."""
    if dotted in source:
        return source[dotted]
    node: Any = source
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def is_bulk(method: str, path: str) -> bool:
    """Whether a request is a ``_bulk`` write (a ``FaultFront`` predicate, so faults hit writes only)."""
    return "/_bulk" in path


class FakeElasticsearch(FakeServer):
    """An in-memory Elasticsearch 9 / OpenSearch 2 node with bulk fault injection."""

    def __init__(
        self,
        flavor: Flavor = "elasticsearch",
        max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH,
        host: str = LOOPBACK,
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        if flavor not in ("elasticsearch", "opensearch"):
            raise ValueError(f"flavor must be 'elasticsearch' or 'opensearch', not {flavor!r}")
        self.flavor: Flavor = flavor
        #: Bodies larger than this (after decompression) get 413; may be changed at any time.
        self.max_content_length = max_content_length
        self._cluster_uuid = uuid.uuid4().hex[:22]
        self._indices: dict[str, _Index] = {}
        self._templates: dict[str, Json] = {}
        self._requests: list[RecordedRequest] = []
        self._request_faults: deque[_RequestFault] = deque()
        self._delays: deque[float] = deque()
        self._rejected_ids: dict[str, int] = {}
        self._rejected_positions: dict[int, int] = {}
        self._mapping_errors: dict[str, tuple[str, str]] = {}

    # -- fault injection (called from the test thread) --------------------
    def throttle_next(self, n: int = 1, retry_after: float | None = 1) -> None:
        """Answer the next ``n`` bulk requests with a whole-request 429 ``es_rejected_execution_exception``.

        ``retry_after`` (seconds) is sent as ``Retry-After``; ``None`` sends none,
        which is what a bare cluster does (proxies and Elastic Cloud may send it).
        """
        with self.lock:
            self._request_faults.extend(_RequestFault(429, retry_after) for _ in range(n))

    def fail_next(self, n: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """Answer the next ``n`` bulk requests with a whole-request 502, 503 or 504.

        Queued after (and consumed in order with) any pending :meth:`throttle_next`.
        """
        if status not in WHOLE_REQUEST_FAILURE_STATUSES:
            raise ValueError(f"status must be one of {sorted(WHOLE_REQUEST_FAILURE_STATUSES)}, not {status}")
        with self.lock:
            self._request_faults.extend(_RequestFault(status, retry_after) for _ in range(n))

    def reject_items(self, *targets: str | int, status: int = 429) -> None:
        """Fail chosen items once with a retryable per-item error (429, 500 or 503).

        A ``str`` target is an ``_id``: its next appearance in any bulk request is
        rejected, later ones succeed. An ``int`` target is a 0-based item position
        in the very next bulk request.
        """
        if status not in ITEM_REJECTION_ERRORS:
            raise ValueError(f"status must be one of {sorted(ITEM_REJECTION_ERRORS)}, not {status}")
        with self.lock:
            for target in targets:
                if isinstance(target, int):
                    self._rejected_positions[target] = status
                else:
                    self._rejected_ids[target] = status

    def mapping_error_for(self, *ids: str, field_name: str = "source.ip", field_type: str = "ip") -> None:
        """Fail these ``_id``s with a per-item 400 mapping error every time they are written."""
        with self.lock:
            for doc_id in ids:
                self._mapping_errors[doc_id] = (field_name, field_type)

    def slow_next(self, n: int = 1, seconds: float = 1.0) -> None:
        """Hold the answer to the next ``n`` bulk requests for ``seconds`` (for client timeouts)."""
        with self.lock:
            self._delays.extend(seconds for _ in range(n))

    # -- inspection (called from the test thread) ---------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last :meth:`reset`, oldest first."""
        with self.lock:
            return list(self._requests)

    def documents(self, index: str | None = None) -> dict[str, Json]:
        """The stored ``_source``s by ``_id``: of one index or data stream, or of all of them.

        Without ``index``, an ``_id`` stored in two indices raises ``ValueError``
        rather than hiding one of them.
        """
        with self.lock:
            if index is not None:
                found = self._lookup(index)
                return copy.deepcopy(found.docs) if found else {}
            merged: dict[str, Json] = {}
            for idx in self._indices.values():
                for doc_id, source in idx.docs.items():
                    if doc_id in merged:
                        raise ValueError(f"_id {doc_id!r} is in more than one index: pass index=")
                    merged[doc_id] = copy.deepcopy(source)
            return merged

    def index_templates(self) -> dict[str, Json]:
        """The stored composable index templates by name."""
        with self.lock:
            return copy.deepcopy(self._templates)

    def data_streams(self) -> list[str]:
        """The names of the data streams created so far."""
        with self.lock:
            return [idx.name for idx in self._indices.values() if idx.data_stream_template]

    def reset(self) -> None:
        """Forget every index, document, template, pending fault and recorded request."""
        with self.lock:
            self._indices.clear()
            self._templates.clear()
            self._requests.clear()
            self._request_faults.clear()
            self._delays.clear()
            self._rejected_ids.clear()
            self._rejected_positions.clear()
            self._mapping_errors.clear()

    # -- the HTTP application -----------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application()

        def route(method: str, path: str, handler: _Handler) -> None:
            app.router.add_route(method, path, self._endpoint(handler))

        for method in ("GET", "HEAD"):
            route(method, "/", self._info)
            route(method, "/_index_template/{name}", self._get_template)
            route(method, "/{index}/_doc/{id}", self._get_doc)
        for method in ("POST", "PUT"):
            route(method, "/_bulk", self._bulk)
            route(method, "/{index}/_bulk", self._bulk)
            route(method, "/_index_template/{name}", self._put_template)
        route("PUT", "/_data_stream/{name}", self._put_data_stream)
        route("GET", "/_data_stream/{name}", self._get_data_stream)
        for method in ("GET", "POST"):
            route(method, "/_count", self._count)
            route(method, "/{index}/_count", self._count)
            route(method, "/_search", self._search)
            route(method, "/{index}/_search", self._search)
            route(method, "/_refresh", self._refresh)
            route(method, "/{index}/_refresh", self._refresh)
        route("PUT", "/{index}", self._create_index)
        route("HEAD", "/{index}", self._index_exists)
        route("*", "/{tail:.*}", self._no_handler)
        return app

    def _endpoint(self, handler: _Handler) -> Handler:
        """Wrap a handler in what every endpoint does first: read, log, check size and media types."""

        async def endpoint(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, handler)

        return endpoint

    async def _serve(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        with self.lock:
            limit = self.max_content_length
        body = await read_body(request, limit)
        wire_size = body.wire_size if body.wire_size is not None else body.size
        with self.lock:
            self._requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    {key: request.headers[key] for key in RECORDED_HEADERS if key in request.headers},
                    wire_size,
                    dict(request.query),
                )
            )
        if body.over_limit:
            return self._reply(request, 413, None)  # Netty's answer: no body at all
        if body.undecodable:
            reason = f"the request body could not be decoded as [{body.encoding}]"
            return self._reply(request, 400, _error_body(400, _error("illegal_argument_exception", reason)))
        media_error = self._check_media_types(request, bool(body.data))
        if media_error is not None:
            return media_error
        try:
            return await handler(request, body.data)
        except _BadRequest as exc:
            return self._reply(request, exc.status, _error_body(exc.status, exc.error))

    def _check_media_types(self, request: web.Request, has_body: bool) -> web.Response | None:
        content_type = request.headers.get("Content-Type")
        if has_body and content_type is None:
            return self._reply(request, 406, {"error": "Content-Type header is missing", "status": 406})
        content_version = _compat_version(content_type)
        supported = content_type is not None and (
            _base_media_type(content_type) in PLAIN_MEDIA_TYPES
            or (self.flavor == "elasticsearch" and content_version is not None)
        )
        if has_body and not supported:
            message = f"Content-Type header [{content_type}] is not supported"
            return self._reply(request, 406, {"error": message, "status": 406})
        if self.flavor == "opensearch":
            return None  # an unknown Accept falls back to JSON
        accept = request.headers.get("Accept")
        accept_version = _compat_version(accept)
        versions = {v for v in (content_version, accept_version) if v is not None}
        mismatched = has_body and versions and (content_version != accept_version)
        if (versions and not versions <= COMPATIBLE_VERSIONS) or mismatched:
            cause = _error(
                "status_exception",
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                "requested a compatible version and the compatible versions must match, and be one of "
                f"{sorted(COMPATIBLE_VERSIONS)}. Accept={accept}, Content-Type={content_type}",
            )
            error = _error(
                "media_type_header_exception",
                "Invalid media-type value on headers [Accept, Content-Type]",
                caused_by=cause,
            )
            return self._reply(request, 400, _error_body(400, error))
        return None

    def _reply(
        self,
        request: web.Request,
        status: int,
        body: Json | None,
        headers: dict[str, str] | None = None,
        *,
        from_cluster: bool = True,
    ) -> web.Response:
        """Answer like the cluster: product header (Elasticsearch), JSON in the media type asked for."""
        out = dict(headers or {})
        if self.flavor == "elasticsearch" and from_cluster:
            out[PRODUCT_HEADER] = PRODUCT_NAME
        if body is None:
            return web.Response(status=status, headers=out)
        accept_version = _compat_version(request.headers.get("Accept"))
        if self.flavor == "elasticsearch" and accept_version is not None:
            out["Content-Type"] = f"application/vnd.elasticsearch+json;compatible-with={accept_version}"
        else:
            out["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=out)

    @staticmethod
    def _json_body(raw: bytes) -> Json:
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise _BadRequest(400, _error("x_content_parse_exception", f"[1:1] {exc}")) from None
        if not isinstance(parsed, dict):
            raise _BadRequest(400, _error("parse_exception", "request body must be a JSON object"))
        return parsed

    # -- cluster --------------------------------------------------------------
    async def _info(self, request: web.Request, raw: bytes) -> web.Response:
        if self.flavor == "opensearch":
            version: Json = {
                "distribution": "opensearch",
                "number": OPENSEARCH_VERSION,
                "build_type": "tar",
                "build_snapshot": False,
                "lucene_version": "9.11.1",
                "minimum_wire_compatibility_version": "7.10.0",
                "minimum_index_compatibility_version": "7.0.0",
            }
            tagline = "The OpenSearch Project: https://opensearch.org/"
        else:
            version = {
                "number": ELASTICSEARCH_VERSION,
                "build_flavor": "default",
                "build_type": "docker",
                "build_snapshot": False,
                "lucene_version": "10.2.2",
                "minimum_wire_compatibility_version": "8.19.0",
                "minimum_index_compatibility_version": "8.0.0",
            }
            tagline = "You Know, for Search"
        body = {
            "name": "fake-node-1",
            "cluster_name": f"fake-{self.flavor}",
            "cluster_uuid": self._cluster_uuid,
            "version": version,
            "tagline": tagline,
        }
        return self._reply(request, 200, body)

    async def _no_handler(self, request: web.Request, raw: bytes) -> web.Response:
        message = f"no handler found for uri [{request.path_qs}] and method [{request.method}]"
        return self._reply(request, 400, {"error": message, "status": 400})

    # -- templates, indices, data streams ------------------------------------
    async def _put_template(self, request: web.Request, raw: bytes) -> web.Response:
        template = self._json_body(raw)
        patterns = template.get("index_patterns")
        if not patterns:
            error = _error("action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
            raise _BadRequest(400, error)
        template["index_patterns"] = [patterns] if isinstance(patterns, str) else list(patterns)
        with self.lock:
            self._templates[request.match_info["name"]] = template
        return self._reply(request, 200, {"acknowledged": True})

    async def _get_template(self, request: web.Request, raw: bytes) -> web.Response:
        name = request.match_info["name"]
        with self.lock:
            matches = {n: t for n, t in self._templates.items() if fnmatch.fnmatchcase(n, name)}
        if not matches:
            raise _BadRequest(
                404, _error("resource_not_found_exception", f"index template matching [{name}] not found")
            )
        templates = [{"name": n, "index_template": {"composed_of": [], **t}} for n, t in matches.items()]
        return self._reply(request, 200, {"index_templates": templates})

    def _data_stream_template(self, name: str) -> str | None:
        """The highest-priority template matching ``name``, if it makes data streams (lock held)."""
        matching = [
            (template.get("priority", 0), template_name, template)
            for template_name, template in self._templates.items()
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in template["index_patterns"])
        ]
        if not matching:
            return None
        _, template_name, template = max(matching, key=lambda match: match[0])
        return template_name if "data_stream" in template else None

    def _lookup(self, name: str) -> _Index | None:
        """An index or data stream by its name or backing index name (lock held)."""
        found = self._indices.get(name)
        if found is None:
            found = next((i for i in self._indices.values() if i.concrete_name == name), None)
        return found

    def _new_index(self, name: str, *, data_stream_ok: bool) -> _Index:
        """Create an index, or a data stream if a template says so (lock held)."""
        problem = None
        if name != name.lower():
            problem = "must be lowercase"
        elif name.startswith(("_", "-", "+")):
            problem = "must not start with '_', '-', or '+'"
        elif INVALID_INDEX_NAME_CHARS & set(name):
            problem = f"must not contain the following characters {sorted(INVALID_INDEX_NAME_CHARS)}"
        if problem:
            reason = f"Invalid index name [{name}], {problem}"
            raise _BadRequest(400, _error("invalid_index_name_exception", reason, index_uuid="_na_", index=name))
        template = self._data_stream_template(name)
        if template is None:
            index = _Index(name=name, concrete_name=name)
        elif not data_stream_ok:
            reason = (
                f"cannot create index with name [{name}], because it matches with template [{template}] "
                "that creates data streams only, use create data stream api instead"
            )
            raise _BadRequest(400, _error("illegal_argument_exception", reason))
        else:
            # Elasticsearch names backing indices .ds-<stream>-<yyyy.MM.dd>-<generation>; OpenSearch omits the date.
            day = "" if self.flavor == "opensearch" else datetime.now(UTC).strftime("%Y.%m.%d-")
            index = _Index(name=name, concrete_name=f".ds-{name}-{day}000001", data_stream_template=template)
        self._indices[name] = index
        return index

    def _missing_index(self, name: str) -> _BadRequest:
        reason = f"no such index [{name}]"
        return _BadRequest(
            404,
            _error(
                "index_not_found_exception",
                reason,
                **{"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name},
            ),
        )

    async def _create_index(self, request: web.Request, raw: bytes) -> web.Response:
        name = request.match_info["index"]
        self._json_body(raw)  # settings and mappings are accepted and ignored
        with self.lock:
            existing = self._lookup(name)
            if existing is not None:
                reason = f"index [{existing.concrete_name}/{existing.uuid}] already exists"
                error = _error(
                    "resource_already_exists_exception", reason, index_uuid=existing.uuid, index=existing.concrete_name
                )
                raise _BadRequest(400, error)
            self._new_index(name, data_stream_ok=False)
        return self._reply(request, 200, {"acknowledged": True, "shards_acknowledged": True, "index": name})

    async def _index_exists(self, request: web.Request, raw: bytes) -> web.Response:
        with self.lock:
            exists = self._lookup(request.match_info["index"]) is not None
        return self._reply(request, 200 if exists else 404, None)

    async def _put_data_stream(self, request: web.Request, raw: bytes) -> web.Response:
        name = request.match_info["name"]
        with self.lock:
            if name in self._indices:
                raise _BadRequest(
                    400, _error("resource_already_exists_exception", f"data_stream [{name}] already exists")
                )
            if self._data_stream_template(name) is None:
                reason = f"no matching index template found for data stream [{name}]"
                raise _BadRequest(400, _error("illegal_argument_exception", reason))
            self._new_index(name, data_stream_ok=True)
        return self._reply(request, 200, {"acknowledged": True})

    async def _get_data_stream(self, request: web.Request, raw: bytes) -> web.Response:
        name = request.match_info["name"]
        with self.lock:
            streams = [
                {
                    "name": idx.name,
                    "timestamp_field": {"name": "@timestamp"},
                    "indices": [{"index_name": idx.concrete_name, "index_uuid": idx.uuid}],
                    "generation": 1,
                    "status": "GREEN",
                    "template": idx.data_stream_template,
                }
                for idx in self._indices.values()
                if idx.data_stream_template and fnmatch.fnmatchcase(idx.name, name)
            ]
        if not streams and not any(ch in name for ch in "*?"):
            raise self._missing_index(name)
        return self._reply(request, 200, {"data_streams": streams})

    # -- _bulk ------------------------------------------------------------------
    async def _bulk(self, request: web.Request, raw: bytes) -> web.Response:
        started = time.monotonic()
        with self.lock:
            fault = self._request_faults.popleft() if self._request_faults else None
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            return self._fault_reply(request, fault, len(raw))
        operations = self._parse_bulk(raw, request.match_info.get("index"))
        with self.lock:
            positions, self._rejected_positions = self._rejected_positions, {}
            items = [self._apply(position, *op, positions) for position, op in enumerate(operations)]
        took = int((time.monotonic() - started) * 1000)
        errors = any("error" in next(iter(item.values())) for item in items)
        return self._reply(request, 200, {"errors": errors, "took": took, "items": items})

    def _fault_reply(self, request: web.Request, fault: _RequestFault, body_size: int) -> web.Response:
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            seconds = fault.retry_after
            headers["Retry-After"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        if fault.status == 429:
            reason = (
                "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, "
                f"all_bytes=0, coordinating_operation_bytes={body_size}, "
                f"max_coordinating_and_primary_bytes={INDEXING_PRESSURE_LIMIT_BYTES}]"
            )
            body = _error_body(429, _error("es_rejected_execution_exception", reason))
            return self._reply(request, 429, body, headers)
        if fault.status == 503:
            error = _error("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
            return self._reply(request, 503, _error_body(503, error), headers)
        # 502/504 come from the load balancer or proxy in front of the nodes, not from a node.
        message = (
            "backend closed connection" if fault.status == 502 else "Timed out waiting for server to produce response"
        )
        return self._reply(request, fault.status, {"ok": False, "message": message}, headers, from_cluster=False)

    def _parse_bulk(self, raw: bytes, path_index: str | None) -> list[tuple[str, Json, bytes | None]]:
        """Split NDJSON into (action, metadata, source line) triples, or raise a whole-request 400."""
        if not raw:
            raise _BadRequest(
                400, _error("action_request_validation_exception", "Validation Failed: 1: no requests added;")
            )
        if not raw.endswith(b"\n"):
            raise _BadRequest(
                400, _error("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
            )
        lines = [line for line in raw.split(b"\n") if line.strip()]
        operations: list[tuple[str, Json, bytes | None]] = []
        line_no = 0
        while line_no < len(lines):
            line_no += 1
            try:
                action_line = json.loads(lines[line_no - 1])
            except ValueError:
                action_line = None
            if not isinstance(action_line, dict) or len(action_line) != 1:
                reason = f"Malformed action/metadata line [{line_no}], expected START_OBJECT with one action"
                raise _BadRequest(400, _error("illegal_argument_exception", reason))
            action, metadata = next(iter(action_line.items()))
            if action not in ("create", "index", "delete", "update") or not isinstance(metadata, dict):
                reason = (
                    f"Malformed action/metadata line [{line_no}], expected field [create], [delete], [index] "
                    f"or [update] but found [{action}]"
                )
                raise _BadRequest(400, _error("illegal_argument_exception", reason))
            metadata = {**metadata, "_index": metadata.get("_index", path_index)}
            for key, missing in (("_index", True), ("_id", action == "delete")):
                if missing and not metadata.get(key):
                    reason = f"Validation Failed: 1: {key.lstrip('_')} is missing;"
                    raise _BadRequest(400, _error("action_request_validation_exception", reason))
            source = None
            if action != "delete":
                if line_no >= len(lines):
                    reason = f"Malformed action/metadata line [{line_no}], the source line is missing"
                    raise _BadRequest(400, _error("illegal_argument_exception", reason))
                source = lines[line_no]
                line_no += 1
            operations.append((action, metadata, source))
        return operations

    def _apply(
        self, position: int, action: str, metadata: Json, source_line: bytes | None, positions: dict[int, int]
    ) -> Json:
        """Run one bulk item against the store (lock held) and return its result item."""
        name = str(metadata["_index"])
        doc_id = metadata.get("_id")
        doc_id = str(doc_id) if doc_id is not None else None

        def failed(status: int, error: Json, index_name: str = name) -> Json:
            return {action: {"_index": index_name, "_id": doc_id, "status": status, "error": error}}

        index = self._lookup(name)
        if index is None:
            try:
                index = self._new_index(name, data_stream_ok=True)
            except _BadRequest as exc:
                return failed(exc.status, exc.error)
        concrete = index.concrete_name
        if index.data_stream_template and action != "create" and index.name == name:
            reason = "only write ops with an op_type of create are allowed in data streams"
            return failed(400, _error("illegal_argument_exception", reason))
        if action == "update":
            return failed(400, _error("illegal_argument_exception", "the fake does not support [update]"), concrete)
        if action != "delete" and doc_id is None:
            doc_id = secrets.token_urlsafe(15)  # 20 characters, like an auto-generated _id
        status = positions.pop(position, None) or self._rejected_ids.pop(doc_id or "", None)
        if status is not None:
            type_, reason = ITEM_REJECTION_ERRORS[status]
            return failed(status, _error(type_, reason.format(index=concrete)), concrete)
        shard = {"index_uuid": index.uuid, "shard": "0", "index": concrete}
        if action == "delete":
            assert doc_id is not None  # checked by _parse_bulk
            existed = index.docs.pop(doc_id, None) is not None
            version = index.versions.get(doc_id, 0) + 1
            index.versions[doc_id] = version
            return self._written(
                action, index, doc_id, version, "deleted" if existed else "not_found", 200 if existed else 404
            )
        assert doc_id is not None and source_line is not None
        parse_type = "mapper_parsing_exception" if self.flavor == "opensearch" else "document_parsing_exception"
        try:
            source = json.loads(source_line)
        except ValueError as exc:
            return failed(400, _error(parse_type, f"[1:1] failed to parse: {exc}", **shard), concrete)
        if not isinstance(source, dict):
            return failed(400, _error(parse_type, "[1:1] failed to parse: not a JSON object", **shard), concrete)
        if index.data_stream_template and _field(source, "@timestamp") is None:
            reason = "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing"
            return failed(400, _error(parse_type, reason, **shard), concrete)
        if doc_id in self._mapping_errors:
            field_name, field_type = self._mapping_errors[doc_id]
            column = max(source_line.find(f'"{field_name.rsplit(".", 1)[-1]}"'.encode()), 0) + 1
            reason = (
                f"[1:{column}] failed to parse field [{field_name}] of type [{field_type}] in document with id "
                f"'{doc_id}'. Preview of field's value: '{_field(source, field_name)}'"
            )
            return failed(400, _error(parse_type, reason, **shard), concrete)
        if doc_id in index.docs and action == "create":
            reason = (
                f"[{doc_id}]: version conflict, document already exists (current version [{index.versions[doc_id]}])"
            )
            return failed(409, _error("version_conflict_engine_exception", reason, **shard), concrete)
        existed = doc_id in index.docs
        index.docs[doc_id] = source
        version = index.versions.get(doc_id, 0) + 1
        index.versions[doc_id] = version
        return self._written(
            action, index, doc_id, version, "updated" if existed else "created", 200 if existed else 201
        )

    @staticmethod
    def _written(action: str, index: _Index, doc_id: str, version: int, result: str, status: int) -> Json:
        return {
            action: {
                "_index": index.concrete_name,
                "_id": doc_id,
                "_version": version,
                "result": result,
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": index.next_seq_no(),
                "_primary_term": 1,
                "status": status,
            }
        }

    # -- reads --------------------------------------------------------------------
    def _targets(self, expression: str | None) -> list[_Index]:
        """Resolve ``a,b*`` to indices (lock held); a missing concrete name is a 404."""
        if expression in (None, "", "_all", "*"):
            return list(self._indices.values())
        found: list[_Index] = []
        for part in str(expression).split(","):
            if any(ch in part for ch in "*?"):
                found += [i for i in self._indices.values() if fnmatch.fnmatchcase(i.name, part)]
            else:
                index = self._lookup(part)
                if index is None:
                    raise self._missing_index(part)
                found.append(index)
        return list({id(i): i for i in found}.values())

    def _matching(self, request: web.Request, raw: bytes) -> tuple[list[tuple[_Index, str, Json]], Json]:
        body = self._json_body(raw)
        query = body.get("query") or {"match_all": {}}
        if not isinstance(query, dict) or len(query) != 1:
            raise _BadRequest(400, _error("parsing_exception", "[query] malformed query, expected a single query"))
        with self.lock:
            hits = [
                (index, doc_id, copy.deepcopy(source))
                for index in self._targets(request.match_info.get("index"))
                for doc_id, source in index.docs.items()
                if self._matches(query, doc_id, source)
            ]
        return hits, body

    @staticmethod
    def _matches(query: Json, doc_id: str, source: Json) -> bool:
        kind, spec = next(iter(query.items()))
        if kind == "match_all":
            return True
        if kind == "ids":
            return doc_id in [str(v) for v in spec.get("values", [])]
        if kind in ("term", "terms") and isinstance(spec, dict) and spec:
            name, wanted = next(iter(spec.items()))
            if kind == "term":
                wanted = [wanted.get("value") if isinstance(wanted, dict) else wanted]
            actual = doc_id if name == "_id" else _field(source, name)
            return actual in wanted or (name == "_id" and doc_id in [str(v) for v in wanted])
        raise _BadRequest(400, _error("parsing_exception", f"unknown query [{kind}] (not supported by the fake)"))

    async def _count(self, request: web.Request, raw: bytes) -> web.Response:
        hits, _ = self._matching(request, raw)
        shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        return self._reply(request, 200, {"count": len(hits), "_shards": shards})

    async def _search(self, request: web.Request, raw: bytes) -> web.Response:
        hits, body = self._matching(request, raw)
        size = int(body.get("size", request.query.get("size", DEFAULT_SEARCH_SIZE)))
        start = int(body.get("from", request.query.get("from", 0)))
        page = [
            {"_index": index.concrete_name, "_id": doc_id, "_score": 1.0, "_source": source}
            for index, doc_id, source in hits[start : start + size]
        ]
        result = {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0 if hits else None, "hits": page},
        }
        return self._reply(request, 200, result)

    async def _get_doc(self, request: web.Request, raw: bytes) -> web.Response:
        name, doc_id = request.match_info["index"], request.match_info["id"]
        with self.lock:
            index = self._lookup(name)
            if index is None:
                raise self._missing_index(name)
            if index.data_stream_template and index.name == name:
                reason = (
                    f"The provided expression [{name}] matches a data stream, "
                    "specify the corresponding concrete indices instead."
                )
                raise _BadRequest(400, _error("illegal_argument_exception", reason))
            source = copy.deepcopy(index.docs.get(doc_id))
            version = index.versions.get(doc_id)
        if source is None:
            return self._reply(request, 404, {"_index": index.concrete_name, "_id": doc_id, "found": False})
        body = {
            "_index": index.concrete_name,
            "_id": doc_id,
            "_version": version,
            "_seq_no": 0,
            "_primary_term": 1,
            "found": True,
            "_source": source,
        }
        return self._reply(request, 200, body)

    async def _refresh(self, request: web.Request, raw: bytes) -> web.Response:
        with self.lock:
            self._targets(request.match_info.get("index"))  # 404 for a missing index
        return self._reply(request, 200, {"_shards": {"total": 2, "successful": 1, "failed": 0}})
