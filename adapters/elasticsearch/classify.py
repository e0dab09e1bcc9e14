"""Elasticsearch's own part of classifying a ``_bulk`` (or template) answer (pure).

The common classifier (:mod:`shippers.delivery.classify`) owns the generic part: failures
without an answer, redirects, 408/429/5xx, 413, 401/403, other 4xx, Retry-After. This module
adds what only Elasticsearch means (CONTRACTS.md, Elasticsearch)::

    no X-Elastic-Product header (failure "product") -> sink_error: set flavor = "opensearch"
    406, or media_type_header_exception              -> sink_error: the media types (flavor)
    error bodies                                     -> quoted as "type: reason" (root_cause when needed)
    2xx with one item per action sent                -> per item, in request order:
    2xx of another shape (no items, too few)         -> retry (nothing says the events were written)

Per item (``{"create": {"status", "error": {"type", "reason"}}}``)::

    2xx                delivered (``errors: false`` is not enough: each item needs its own 2xx)
    no status          retry this item alone
    409                duplicate (this _id is already there: an earlier attempt landed it)
    408 / 429 / 5xx    retry this item alone (a busy write pool, a shard that is not ready)
    4xx about the index, not the document (closed, invalid name, shard limit,
    write block, an alias without a write index)
                       sink_error for the whole request: every event would fail alike; keep them
    401 / 403 / 404    sink_error for the whole request (privileges, or the index is missing
                       and the cluster does not auto-create it): keep every event
    400                reject -> DLQ with "error.type: error.reason" (e.g. a mapping error)
    other              retry this item alone (an unknown status is no proof the event is bad)

An index template (``classify_setup``) is in place only when acknowledged (``{"acknowledged": true}``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from adapters.contract import ItemResult, Verdict
from adapters.elasticsearch.bulk_answer import CreatedAnswer, CreateItem
from shippers.delivery.attempt import Attempt
from shippers.delivery.classify import Hints, VendorRules, classify, is_retryable, is_success, quote
from shippers.quoting import folded

# Why: the create action's documented answers: 201 created (200 where a cluster reports it so);
# checked first because nearly every item of a healthy bulk answer has one of them.
CREATED_STATUSES = frozenset({201, 200})
CONFLICT_STATUS = 409  # the _id exists: a duplicate
BAD_DOCUMENT_STATUS = 400  # the document itself is refused (a mapping error)
MISSING_INDEX_STATUS = 404
# Why: an item refused for the credentials' privileges: every item would be refused alike.
NOT_ALLOWED_STATUSES = frozenset({401, 403})
NOT_ACCEPTABLE_STATUS = 406  # the media types (the flavor is wrong)
# Why: a server reason can quote a whole document; the DLQ and status page need the gist.
MAX_REASON_CHARS = 1000

_FLAVOR_HINT = 'if the server is OpenSearch, set flavor = "opensearch"'
_TLS_HINT = "set ca_file to the cluster's CA bundle or check the host name"
# The outcomes most items share, made once (a 1000-item answer would otherwise build 1000 of them).
_DELIVERED = ItemResult("delivered")
_DUPLICATE = ItemResult("duplicate", "already at the destination (409)")
_NO_STATUS = ItemResult("retry", "the bulk answer has no status for this item")
# Why: per-item errors about the target index, not the document (Elasticsearch's exception
# names): every item of the stream fails the same way until a person fixes the cluster, so
# dead-lettering them would empty the stream into the DLQ. Value: what to fix.
INDEX_ERRORS = {
    "index_closed_exception": "open it (POST /<index>/_open) or write elsewhere",
    "invalid_index_name_exception": "fix index / data_stream",
    "validation_exception": "e.g. the cluster's shard limit (cluster.max_shards_per_node): delete old indices or raise it",
    "cluster_block_exception": "free disk space and lift the block (index.blocks.write / read_only_allow_delete)",
}
# Why: illegal_argument_exception is mostly about a field (document-level); "no write index is
# defined for alias [x]" is the one about the target: an alias needs is_write_index on one index.
_ALIAS_WITHOUT_WRITE_INDEX = re.compile(r"write index", re.IGNORECASE)


def describe_answer(body: Any, content_type: str | None) -> str:
    """What came back when it is not Elasticsearch's JSON: its type, its size and its start, briefly."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    text = body if isinstance(body, str) else repr(body)
    what = content_type.split(";", 1)[0].strip() if content_type else "non-JSON"
    return f"a {what or 'non-JSON'} answer of {len(text)} characters, not Elasticsearch's JSON: {quote(text)!r}"


def server_reason(body: Any, content_type: str | None = None) -> str:
    """``type: reason`` of an Elasticsearch error body (or what the body says, briefly)."""
    if isinstance(body, str | bytes | bytearray) and body:  # not JSON at all: a proxy's page, a gateway's text
        return describe_answer(body, content_type)
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        root = error.get("root_cause")
        if not error.get("reason") and isinstance(root, list) and root and isinstance(root[0], dict):
            error = root[0]
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
        if not error.get("type") and not error.get("reason"):
            text = str(error.get("message") or body)
    elif error in (None, ""):
        text = "(empty answer)"
    else:  # {"error": "some text"} from a gateway, or JSON that is not an object
        text = quote(str(error))
    return folded(text, MAX_REASON_CHARS)


class _ClusterRules(VendorRules):
    """What every answer of the cluster shares: how it says what went wrong, and what to fix."""

    destination = "the cluster"

    def __init__(self, target: str, privilege: str) -> None:
        self.target = target
        self.hints = Hints(
            credentials="check api_key, username/password or bearer_token",
            privileges=f"grant these credentials {privilege}",
            endpoint=f"check hosts (a path prefix or proxy?) and {target!r}",
            tls=_TLS_HINT,
            request=(
                "a header value it refused, e.g. a line break or a non-Latin-1 character in api_key, password or "
                "bearer_token: check this sink's credentials"
            ),
            product=f"the server is not Elasticsearch (no X-Elastic-Product header); {_FLAVOR_HINT}",
            missing_credentials="cannot sign for AWS: give the process AWS credentials or remove aws_sigv4",
            too_large="the cluster's http.max_content_length",
        )

    def said(self, answer: Attempt) -> str:
        return f"{answer.status} {server_reason(answer.body, answer.content_type)}"

    def own(self, answer: Attempt, items: int) -> Verdict | None:
        if is_success(answer.status):
            return None
        said = self.said(answer)
        if answer.status == NOT_ACCEPTABLE_STATUS or "media_type_header_exception" in said:
            return Verdict.sink_error(f"the server refused the request's media types ({said}); {_FLAVOR_HINT}")
        return None


class BulkRules(_ClusterRules):
    """A ``_bulk`` of create actions to one target: the answer is read item by item."""

    def __init__(self, target: str) -> None:
        super().__init__(target, f"the 'create_doc' and 'auto_configure' index privileges on {target!r}")

    def success(self, answer: Attempt, items: int) -> Verdict:
        body = answer.body
        if isinstance(body, CreatedAnswer):
            results: Any = body.items
        else:
            results = body.get("items") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != items:
            got = len(results) if isinstance(results, list) else "no"
            came = "" if isinstance(body, dict | CreatedAnswer) else f" ({describe_answer(body, answer.content_type)})"
            return Verdict.retry(f"the bulk answer had {got} items for {items} sent{came}")
        return self._items(results)

    def _items(self, results: list[Any]) -> Verdict:
        # No fast path on "errors": false alone: only an item's own 2xx status acknowledges it (a
        # proxy's or a stub's answer of the right length with statusless items is not a write).
        outcomes: list[ItemResult] = []
        created = duplicates = 0
        for item in results:
            if type(item) is CreateItem:  # the common shape (bulk_answer): a create with its status alone
                status = item.create.status
                result: Any = None
            else:
                result = next(iter(item.values()), {}) if isinstance(item, dict) else {}
                status = result.get("status") if isinstance(result, dict) else None
            if not isinstance(status, int):
                outcomes.append(_NO_STATUS)
            elif status in CREATED_STATUSES:
                created += 1
                outcomes.append(_DELIVERED)
            elif status == CONFLICT_STATUS:
                duplicates += 1
                outcomes.append(_DUPLICATE)
            else:
                verdict = self._failed_item(status, {"status": status} if result is None else result, outcomes)
                if verdict is not None:
                    return verdict
        if created == len(outcomes):
            return Verdict.delivered()
        if duplicates == len(outcomes):
            return Verdict.duplicate("every event was already at the destination (409)")
        return Verdict.per_item(outcomes)

    def _failed_item(self, status: int, result: dict[str, Any], outcomes: list[ItemResult]) -> Verdict | None:
        """Append this item's outcome; or a Verdict for the whole request when the item speaks for every event."""
        target = self.target
        if is_success(status):
            outcomes.append(_DELIVERED)
        elif is_retryable(status):
            outcomes.append(ItemResult("retry", f"{status} {server_reason(result)}"))
        elif (fix := _index_problem(result)) is not None:
            return Verdict.sink_error(
                f"the cluster cannot write to {target!r} ({status} {server_reason(result)}); {fix}; every event is kept"
            )
        elif status in NOT_ALLOWED_STATUSES:
            return Verdict.sink_error(f"not allowed ({status} {server_reason(result)}); {self.hints.privileges}")
        elif status == MISSING_INDEX_STATUS:
            return Verdict.sink_error(
                f"{target!r} does not exist and the cluster does not create it ({server_reason(result)}); "
                "create it, allow auto-creation, or keep setup = true"
            )
        elif status == BAD_DOCUMENT_STATUS:
            outcomes.append(ItemResult("reject", server_reason(result)))
        else:
            outcomes.append(ItemResult("retry", f"{status} {server_reason(result)}"))
        return None


class SetupRules(_ClusterRules):
    """The index template PUT: in place only when the cluster acknowledges it."""

    def __init__(self, target: str) -> None:
        super().__init__(
            target,
            "the 'manage_index_templates' cluster privilege (or set setup = false and install the template yourself)",
        )

    def success(self, answer: Attempt, items: int) -> Verdict:
        body = answer.body
        if isinstance(body, dict) and body.get("acknowledged") is True:
            return Verdict.delivered()
        # Both flavors acknowledge a template with {"acknowledged": true}; any other 2xx (a proxy's
        # page, a gateway's "OK") installed nothing, so the sink would write without ECS mappings.
        shown = describe_answer(body, answer.content_type) if not isinstance(body, dict) else (
            f"a JSON answer without \"acknowledged\": true (keys: {', '.join(sorted(map(str, body))[:5]) or 'none'})"
        )
        return Verdict.sink_error(
            f"HTTP {answer.status} with {shown}; that is not how Elasticsearch or OpenSearch acknowledges a "
            "template: check hosts / cloud_id (a proxy may be answering)"
        )


@lru_cache(maxsize=64)  # Why: one target per sink; the rules are immutable, so they are built once
def bulk_rules(target: str) -> BulkRules:
    return BulkRules(target)


def classify_bulk(answer: Attempt, n_items: int, now: float, target: str) -> Verdict:
    """The Verdict for a ``_bulk`` attempt that carried ``n_items`` create actions to ``target``."""
    return classify(answer, bulk_rules(target), n_items, now)


def _index_problem(result: dict[str, Any]) -> str | None:
    """What to fix when a per-item error is about the target index rather than the document."""
    error = result.get("error")
    if not isinstance(error, dict):
        return None
    kind = error.get("type")
    if kind in INDEX_ERRORS:
        return INDEX_ERRORS[kind]
    if kind == "illegal_argument_exception" and _ALIAS_WITHOUT_WRITE_INDEX.search(str(error.get("reason", ""))):
        return (
            "the alias has no write index: set is_write_index on one of its indices, or set index to a concrete index"
        )
    return None


def classify_setup(answer: Attempt, target: str, now: float) -> Verdict | None:
    """None when the index template is in place; else why not (a sink_error, or retry when unreachable)."""
    verdict = classify(answer, SetupRules(target), 1, now)
    if verdict.kind == "delivered":
        return None
    if verdict.kind == "reject":  # a template is never an event: nothing to dead-letter
        return Verdict.sink_error(f"the index template for {target!r} was refused: {verdict.reason}")
    return Verdict(verdict.kind, f"index template for {target!r}: {verdict.reason}", verdict.retry_after)
