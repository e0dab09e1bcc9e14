"""A fast counting Elasticsearch 9 ``_bulk`` endpoint (also what rsyslog and syslog-ng talk to).

Answers as a cluster does, as far as the clients we measure see (CONTRACTS.md, Elasticsearch)::

    GET|HEAD /                          cluster info (version 9.x)
    HEAD|GET /_cat/health               200 (rsyslog's omelasticsearch checks it before sending)
    PUT|POST /_index_template/<name>    {"acknowledged": true}; a template with "data_stream"
                                        makes matching names data streams (create only)
    GET /_index_template/<name>         the template, or 404
    PUT /<index>, HEAD /<index>         create an index / 200 or 404
    POST|PUT /_bulk, /<index>/_bulk     NDJSON (plain, gzip or deflate); one item per action:
        create, new _id          -> 201 "created"   (counted: one event stored)
        create, _id seen before  -> 409 version_conflict_engine_exception (counted as refused)
        index                    -> 201 "created" / 200 "updated" (an overwrite is not a second event)
        delete                   -> 200 "deleted" / 404 "not_found"
        update                   -> 400 (not supported here)
        an action without _id    -> a generated _id, as the cluster does
      {"took", "errors", "items": [{"create": {"_index", "_id", "_version", "result", "_shards",
      "_seq_no", "_primary_term", "status"}}]}, filtered by ``filter_path`` as a cluster does
    anything else                       400 "no handler found for uri", as the cluster answers

Every answer carries ``X-Elastic-Product: Elasticsearch`` (the v9 client refuses a 2xx without
it) and is JSON in the media type asked for (``compatible-with=9`` when the client asks so).
A body without a Content-Type the cluster supports is a 406; a body that does not decode is a 400.

Fast path: msgspec decodes only the action lines (the source lines are checked to be there and
to look like objects, not parsed); the answer is built as plain objects and encoded once.
Not modelled: mappings (no per-item 400 unless the source line is missing or not an object),
faults (use ``shippers.testing.fake_elasticsearch`` for those), searches.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

import msgspec

from .filter_path import compile_filter, filtered
from .http_core import BodyError, Request, Response, decoded
from .process import Endpoint, start
from .tally import Counting

# Why: the major version the adapter and the v9 client are written against.
VERSION = "9.1.0"
PRODUCT_HEADER = "X-Elastic-Product"
# Why: REST API compatibility: Elasticsearch 9 serves compatible-with=9 and 8.
COMPATIBLE_VERSIONS = frozenset({8, 9})
PLAIN_MEDIA_TYPES = frozenset({"application/json", "application/x-ndjson"})
_COMPAT_MEDIA_TYPE = re.compile(
    r"^application/vnd\.elasticsearch\+(json|x-ndjson)\s*;\s*compatible-with\s*=\s*(\d+)\s*$", re.IGNORECASE
)
# Why: a node with one primary and one (unassigned) replica, as a single-node cluster reports.
_SHARDS = {"total": 2, "successful": 1, "failed": 0}


class _Target(msgspec.Struct):
    index: str | None = msgspec.field(default=None, name="_index")
    id: str | int | None = msgspec.field(default=None, name="_id")


_ACTIONS = frozenset({"create", "index", "delete", "update"})
_WITH_SOURCE = _ACTIONS - {"delete"}
# An action line is {"<action>": {"_index": ..., "_id": ...}}: one key, its metadata (other keys ignored).
_decode_action = msgspec.json.Decoder(dict[str, _Target]).decode
_decode_actions = msgspec.json.Decoder(list[dict[str, _Target]]).decode
_decode_json = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class _BadRequest(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason

    def body(self) -> dict[str, Any]:
        error = {"type": self.kind, "reason": self.reason}
        return {"error": {"root_cause": [error], **error}, "status": self.status}


def _compat_version(value: str | None) -> int | None:
    match = _COMPAT_MEDIA_TYPE.match(value.strip()) if value else None
    return int(match.group(2)) if match else None


class ElasticsearchApp(Counting):
    """One node's worth of ``_bulk``: which ``_id``s each index holds, and the tally."""

    def __init__(self, answer_after: float = 0.0) -> None:
        super().__init__()
        self.answer_after = answer_after  # seconds each _bulk answer is held, as a remote cluster's latency
        self.reset()

    def reset(self) -> None:
        """Forget every template, index and count, as a fresh node."""
        super().reset()
        self.templates: dict[str, dict[str, Any]] = {}
        self.indices: dict[str, set[str]] = {}  # index or data stream name -> its _ids
        self._concrete: dict[str, str] = {}  # name -> what items report as _index
        self._data_streams: set[str] = set()
        self._seq_no = 0

    # -- HTTP -------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        try:
            data = decoded(request)
        except BodyError as exc:
            return self._reply(request, 400, _BadRequest(400, "illegal_argument_exception", str(exc)).body())
        refused = self._check_media_types(request, bool(data))
        if refused is not None:
            return refused
        try:
            return self._route(request, data)
        except _BadRequest as exc:
            return self._reply(request, exc.status, exc.body())

    def _route(self, request: Request, data: bytes) -> Response:
        method, parts = request.method, [p for p in request.path.split("/") if p]
        if method in ("POST", "PUT") and parts and parts[-1] == "_bulk" and len(parts) <= 2:
            return self._bulk(request, data, parts[0] if len(parts) == 2 else None)
        if not parts and method in ("GET", "HEAD"):
            return self._reply(request, 200, self._info())
        if parts == ["_cat", "health"] and method in ("GET", "HEAD"):
            line = f"{int(time.time())} {time.strftime('%H:%M:%S')} bench green 1 1 1 1 0 0 0 0 - 100.0%\n"
            return Response(200, line.encode(), {PRODUCT_HEADER: "Elasticsearch", "Content-Type": "text/plain"})
        if len(parts) == 2 and parts[0] == "_index_template":
            if method in ("PUT", "POST"):
                return self._put_template(request, parts[1], data)
            if method in ("GET", "HEAD"):
                return self._get_template(request, parts[1])
        if len(parts) == 1 and not parts[0].startswith("_"):
            if method == "PUT":
                self._known(parts[0])
                return self._reply(request, 200, {"acknowledged": True, "shards_acknowledged": True, "index": parts[0]})
            if method == "HEAD":
                return self._reply(request, 200 if parts[0] in self.indices else 404, None)
        reason = f"no handler found for uri [{request.raw_path}] and method [{method}]"
        return self._reply(request, 400, {"error": reason, "status": 400})

    def _check_media_types(self, request: Request, has_body: bool) -> Response | None:
        """The cluster's 406 for a body in a media type it does not take; None when the request is fine."""
        content_type = request.headers.get("content-type")
        if not has_body:
            return None
        base = content_type.split(";", 1)[0].strip().lower() if content_type else None
        version = _compat_version(content_type)
        if base in PLAIN_MEDIA_TYPES or (version is not None and version in COMPATIBLE_VERSIONS):
            return None
        message = f"Content-Type header [{content_type}] is not supported" if content_type else "Content-Type header is missing"
        return self._reply(request, 406, {"error": message, "status": 406})

    def _reply(self, request: Request, status: int, body: dict[str, Any] | None) -> Response:
        headers = {PRODUCT_HEADER: "Elasticsearch"}
        if body is None:
            return Response(status, b"", headers)
        version = _compat_version(request.headers.get("accept"))
        headers["Content-Type"] = (
            f"application/vnd.elasticsearch+json;compatible-with={version}" if version else "application/json"
        )
        return Response(status, _encode(body), headers)

    def _info(self) -> dict[str, Any]:
        version = {"number": VERSION, "build_flavor": "default", "build_type": "docker", "build_snapshot": False,
                   "lucene_version": "10.2.2", "minimum_wire_compatibility_version": "8.19.0",
                   "minimum_index_compatibility_version": "8.0.0"}  # fmt: skip
        return {"name": "bench-node", "cluster_name": "bench", "cluster_uuid": "bench-cluster-uuid",
                "version": version, "tagline": "You Know, for Search"}  # fmt: skip

    # -- templates and indices ----------------------------------------------------
    def _put_template(self, request: Request, name: str, data: bytes) -> Response:
        try:
            template = _decode_json(data) if data else {}
        except msgspec.DecodeError as exc:
            raise _BadRequest(400, "x_content_parse_exception", f"[1:1] {exc}") from None
        patterns = template.get("index_patterns") if isinstance(template, dict) else None
        if not patterns:
            raise _BadRequest(400, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
        template["index_patterns"] = [patterns] if isinstance(patterns, str) else list(patterns)
        self.templates[name] = template
        return self._reply(request, 200, {"acknowledged": True})

    def _get_template(self, request: Request, name: str) -> Response:
        found = [{"name": n, "index_template": t} for n, t in self.templates.items() if fnmatchcase(n, name)]
        if not found:
            raise _BadRequest(404, "resource_not_found_exception", f"index template matching [{name}] not found")
        return self._reply(request, 200, {"index_templates": found})

    def _known(self, name: str) -> set[str]:
        """The _ids of an index, creating it (a data stream, if the best-matching template says so)."""
        ids = self.indices.get(name)
        if ids is None:
            if name != name.lower() or name.startswith(("_", "-", "+")) or set('\\/*?"<>| ,#:') & set(name):
                raise _BadRequest(400, "invalid_index_name_exception", f"Invalid index name [{name}]")
            matching = [t for t in self.templates.values() if any(fnmatchcase(name, p) for p in t["index_patterns"])]
            best = max(matching, key=lambda t: t.get("priority", 0), default=None)
            if best is not None and "data_stream" in best:
                self._data_streams.add(name)
                self._concrete[name] = f".ds-{name}-{datetime.now(UTC):%Y.%m.%d}-000001"
            ids = self.indices[name] = set()
        return ids

    # -- _bulk ------------------------------------------------------------------------
    def _bulk(self, request: Request, data: bytes, path_index: str | None) -> Response:
        started = time.perf_counter()
        if not data:
            raise _BadRequest(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
        if not data.endswith(b"\n"):
            raise _BadRequest(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
        tree = compile_filter(request.query.get("filter_path"))
        operations = _operations([line for line in data.split(b"\n") if line])
        stored: list[str | None] = []
        items = self._all_new_creates(operations, path_index, tree, stored)
        if items is None:
            items = [self._apply(action, target, path_index, source, stored) for action, target, source in operations]
        self.tally.stored(stored)
        self.tally.requests += 1
        errors = any("error" in next(iter(item.values())) for item in items)
        took = int((time.perf_counter() - started) * 1000)
        answer = self._reply(request, 200, filtered({"took": took, "errors": errors, "items": items}, tree))
        answer.after = self.answer_after
        return answer

    def _all_new_creates(self, operations: list[tuple[str, _Target, bytes | None]], path_index: str | None,
                         tree: object, stored: list[str | None]) -> list[dict[str, Any]] | None:  # fmt: skip
        """The items of the common request, built in one go: creates of new _ids into one index; None otherwise.

        The answer is the same as :meth:`_apply` gives item by item (tests compare them). When
        the filter keeps nothing that differs between items (``items.*.status``), every item
        is one shared object, which the filter then copies once.
        """
        names = {target.index or path_index for _, target, _ in operations}
        if len(names) != 1 or None in names or any(action != "create" for action, _, _ in operations):
            return None
        (name,) = names
        assert name is not None
        try:
            ids = self._known(name)
        except _BadRequest:
            return None
        batch = [None if target.id is None else str(target.id) for _, target, _ in operations]
        fresh = set(batch)
        if None in fresh or len(fresh) != len(batch) or not ids.isdisjoint(fresh):
            return None
        if not all(source is not None and source.lstrip()[:1] == b"{" for _, _, source in operations):
            return None
        ids.update(fresh)
        stored += batch
        concrete = self._concrete.get(name, name)
        first = self._seq_no
        self._seq_no += len(batch)
        if _projects_to_constant(tree, concrete):
            return [_created(concrete, batch[0], first)] * len(batch)
        return [_created(concrete, doc_id, first + n) for n, doc_id in enumerate(batch)]

    def _apply(self, action: str, target: _Target, path_index: str | None, source: bytes | None,
               stored: list[str | None]) -> dict[str, Any]:  # fmt: skip
        """One bulk item: store or refuse it, and its answer."""
        name = target.index or path_index
        if not name:
            raise _BadRequest(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
        doc_id = None if target.id is None else str(target.id)
        try:
            ids = self._known(name)
        except _BadRequest as exc:
            return {action: {"_index": name, "_id": doc_id, "status": exc.status, "error": {"type": exc.kind, "reason": exc.reason}}}
        concrete = self._concrete.get(name, name)
        if action == "update":
            return _failed(action, concrete, doc_id, 400, "illegal_argument_exception", "the counting endpoint does not support [update]")
        if name in self._data_streams and action != "create":
            reason = "only write ops with an op_type of create are allowed in data streams"
            return _failed(action, concrete, doc_id, 400, "illegal_argument_exception", reason)
        if action == "delete":
            if doc_id is None:
                raise _BadRequest(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
            existed = doc_id in ids
            if existed:
                ids.discard(doc_id)
                self.tally.removed([doc_id])
            return self._written(action, concrete, doc_id, "deleted" if existed else "not_found", 200 if existed else 404)
        if source is None or not source.lstrip().startswith(b"{"):
            reason = "[1:1] failed to parse: the source is not a JSON object"
            return _failed(action, concrete, doc_id, 400, "document_parsing_exception", reason)
        if doc_id is None:
            doc_id = secrets.token_urlsafe(15)  # 20 characters, like a generated _id
        if doc_id in ids:
            if action == "create":
                self.tally.refused += 1
                reason = f"[{doc_id}]: version conflict, document already exists (current version [1])"
                return _failed(action, concrete, doc_id, 409, "version_conflict_engine_exception", reason)
            return self._written(action, concrete, doc_id, "updated", 200)
        ids.add(doc_id)
        stored.append(doc_id)
        return self._written(action, concrete, doc_id, "created", 201)

    def _written(self, action: str, concrete: str, doc_id: str | None, result: str, status: int) -> dict[str, Any]:
        """The answer item of a write (:func:`_created` is the same for a create of a new _id)."""
        self._seq_no += 1
        return {action: {"_index": concrete, "_id": doc_id, "_version": 1, "result": result, "_shards": _SHARDS,
                         "_seq_no": self._seq_no - 1, "_primary_term": 1, "status": status}}  # fmt: skip


def _created(concrete: str, doc_id: str | None, seq_no: int) -> dict[str, Any]:
    return {"create": {"_index": concrete, "_id": doc_id, "_version": 1, "result": "created", "_shards": _SHARDS,
                       "_seq_no": seq_no, "_primary_term": 1, "status": 201}}  # fmt: skip


@lru_cache(maxsize=256)
def _projects_to_constant(tree: Any, concrete: str) -> bool:
    """Whether the filter keeps nothing of a created item that differs between items (_id, _seq_no)."""
    if tree is None:
        return False
    one, other = ({"items": [_created(concrete, doc_id, seq)]} for doc_id, seq in (("a", 0), ("b", 1)))
    return bool(filtered(one, tree) == filtered(other, tree))


def _failed(action: str, concrete: str, doc_id: str | None, status: int, kind: str, reason: str) -> dict[str, Any]:
    error = {"type": kind, "reason": reason, "index_uuid": "bench", "shard": "0", "index": concrete}
    return {action: {"_index": concrete, "_id": doc_id, "status": status, "error": error}}


def _operations(lines: list[bytes]) -> list[tuple[str, _Target, bytes | None]]:
    """(action, metadata, source line) per operation; a whole-request 400 for a malformed one.

    Fast path: when no action is a delete (which has no source line), actions are the even
    lines, decoded as one JSON array in one call; otherwise, or when that fails, line by line.
    """
    try:
        actions = _decode_actions(b"[" + b",".join(lines[0::2]) + b"]")
    except msgspec.DecodeError:
        actions = None
    if actions is not None and len(lines) % 2 == 0:
        pairs = [next(iter(action.items())) if len(action) == 1 else ("", None) for action in actions]
        if all(name in _WITH_SOURCE and target is not None for name, target in pairs):
            return [(name, target, source) for (name, target), source in zip(pairs, lines[1::2], strict=True)]
    operations: list[tuple[str, _Target, bytes | None]] = []
    line_no = 0
    while line_no < len(lines):
        line_no += 1
        try:
            action = _decode_action(lines[line_no - 1])
        except msgspec.DecodeError:
            action = {}
        name, target = next(iter(action.items())) if len(action) == 1 else ("", None)
        if name not in _ACTIONS or target is None:
            reason = (f"Malformed action/metadata line [{line_no}], expected one of [create], [delete], [index] "
                      "or [update] with an object of metadata")  # fmt: skip
            raise _BadRequest(400, "illegal_argument_exception", reason)
        source = None
        if name != "delete":
            if line_no >= len(lines):
                reason = f"Malformed action/metadata line [{line_no}], the source line is missing"
                raise _BadRequest(400, "illegal_argument_exception", reason)
            source = lines[line_no]
            line_no += 1
        operations.append((name, target, source))
    return operations


def start_elasticsearch(**options: Any) -> Endpoint:
    """A counting ``_bulk`` endpoint in its own process."""
    return start(ElasticsearchApp, **options)
