"""Turn one ``_bulk`` (or template) answer into a :class:`~adapters.contract.Verdict` (pure).

Whole request (CONTRACTS.md, Elasticsearch)::

    no answer: connection refused / reset, timeout  -> retry
    no answer: TLS failure, not Elasticsearch, no AWS credentials,
               a request the client cannot build (bad header value)  -> sink_error (what to fix)
    429, 408, 502, 503, 504, other 5xx               -> retry (Retry-After honoured)
    413 (body over http.max_content_length)          -> split; a single item -> reject
    401 / 403                                        -> sink_error: credentials / privileges
    400 / 404 / 406 / other 4xx                      -> sink_error: our bodies are always well formed,
                                                        so the request line, the media types (flavor)
                                                        or a proxy is wrong; nothing is dead-lettered
    2xx with one item per action sent                -> per item, in request order:
    2xx of another shape (no items, too few)         -> retry (nothing says the events were written)

Per item (``{"create": {"status", "error": {"type", "reason"}}}``)::

    200 / 201          delivered (``errors: false`` is not enough: each item needs its own 2xx)
    no status          retry this item alone
    409                duplicate (this _id is already there: an earlier attempt landed it)
    429 / 5xx          retry this item alone
    4xx about the index, not the document (closed, invalid name, shard limit,
    write block, an alias without a write index)
                       sink_error for the whole request: every event would fail alike; keep them
    401 / 403 / 404    sink_error for the whole request (privileges, or the index is missing
                       and the cluster does not auto-create it): keep every event
    400                reject -> DLQ with "error.type: error.reason" (e.g. a mapping error)
    other              retry this item alone (an unknown status is no proof the event is bad)
"""

from __future__ import annotations

import re
from typing import Any

from adapters.contract import ItemResult, Verdict
from adapters.elasticsearch.transport import Answer
from adapters.quoting import folded
from shippers.retry_after import parse_retry_after

# Why: the whole-request statuses CONTRACTS.md lists as transient (plus 408, a proxy's timeout).
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
# Why: an item rejected by a busy write pool (429) or a shard that is not ready (5xx) will land later.
ITEM_RETRY_STATUSES = frozenset({429})
# Why: a server reason can quote a whole document; the DLQ and status page need the gist.
MAX_REASON_CHARS = 1000
# Why: an answer that is not Elasticsearch's JSON (a proxy's HTML page, a gateway's text) is
# quoted this far, whitespace folded: enough to recognise it, short enough for a status line.
MAX_QUOTED_CHARS = 200

_FLAVOR_HINT = 'if the server is OpenSearch, set flavor = "opensearch"'
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




def quoted(text: str) -> str:
    """``text`` with its whitespace folded, cut to MAX_QUOTED_CHARS (an ellipsis says it was cut)."""
    return folded(text, MAX_QUOTED_CHARS)


def describe_answer(body: Any, content_type: str | None) -> str:
    """What came back when it is not Elasticsearch's JSON: its type, its size and its start, briefly."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    text = body if isinstance(body, str) else repr(body)
    what = content_type.split(";", 1)[0].strip() if content_type else "non-JSON"
    return f"a {what or 'non-JSON'} answer of {len(text)} characters, not Elasticsearch's JSON: {quoted(text)!r}"


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
        text = quoted(str(error))
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def no_answer(answer: Answer) -> Verdict:
    """The Verdict for an attempt that got no usable HTTP answer."""
    detail = answer.detail
    if answer.failure == "tls":
        return Verdict.sink_error(
            f"TLS failed ({detail}); set ca_file to the cluster's CA bundle or check the host name"
        )
    if answer.failure == "product":
        return Verdict.sink_error(f"the server is not Elasticsearch (no X-Elastic-Product header); {_FLAVOR_HINT}")
    if answer.failure == "credentials":
        return Verdict.sink_error(
            f"cannot sign for AWS ({detail}); give the process AWS credentials or remove aws_sigv4"
        )
    if answer.failure == "request":
        return Verdict.sink_error(
            f"the client could not build the request ({detail}: a header value it refused, e.g. a line break or a "
            "non-Latin-1 character in api_key, password or bearer_token); check this sink's credentials"
        )
    if answer.failure == "timeout":
        return Verdict.retry(f"no answer within request_timeout ({detail})")
    if answer.failure == "unreadable":
        return Verdict.retry(f"the answer was not JSON ({detail}); is a proxy answering instead of the cluster?")
    return Verdict.retry(f"cannot reach the cluster ({detail})")


def _request_error(answer: Answer, n_items: int, now: float, target: str, privilege: str) -> Verdict:
    """The Verdict for a whole-request error status (anything but 2xx)."""
    status = answer.status
    why = f"{status} {server_reason(answer.body, answer.content_type)}"
    wait = parse_retry_after(answer.retry_after, now, answer.date)
    if status in RETRY_STATUSES or (status is not None and status >= 500):
        return Verdict.retry(why, wait)
    if status == 413:
        if n_items > 1:
            return Verdict.split(f"{why}: the body is over the cluster's http.max_content_length")
        return Verdict.reject("this event alone is larger than the cluster's http.max_content_length (413)")
    if status == 401:
        return Verdict.sink_error(f"authentication failed ({why}); check api_key, username/password or bearer_token")
    if status == 403:
        return Verdict.sink_error(f"not allowed ({why}); grant these credentials {privilege}")
    if status == 406 or "media_type_header_exception" in why:
        return Verdict.sink_error(f"the server refused the request's media types ({why}); {_FLAVOR_HINT}")
    return Verdict.sink_error(
        f"the cluster refused the request ({why}); check hosts (a path prefix or proxy?) and {target!r}"
    )


def classify_bulk(answer: Answer, n_items: int, now: float, target: str) -> Verdict:
    """The Verdict for a ``_bulk`` attempt that carried ``n_items`` create actions to ``target``."""
    if answer.failure is not None or answer.status is None:
        return no_answer(answer)
    privilege = f"the 'create_doc' and 'auto_configure' index privileges on {target!r}"
    if not 200 <= answer.status < 300:
        return _request_error(answer, n_items, now, target, privilege)
    body = answer.body
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) != n_items:
        got = len(items) if isinstance(items, list) else "no"
        came = "" if isinstance(body, dict) else f" ({describe_answer(body, answer.content_type)})"
        return Verdict.retry(f"the bulk answer had {got} items for {n_items} sent{came}")
    # No fast path on "errors": false alone: only an item's own 2xx status acknowledges it (a
    # proxy's or a stub's answer of the right length with statusless items is not a write).
    results: list[ItemResult] = []
    for item in items:
        result: Any = next(iter(item.values()), {}) if isinstance(item, dict) else {}
        status = result.get("status") if isinstance(result, dict) else None
        if not isinstance(status, int):
            results.append(ItemResult("retry", "the bulk answer has no status for this item"))
        elif 200 <= status < 300:
            results.append(ItemResult("delivered"))
        elif status == 409:
            results.append(ItemResult("duplicate", "already at the destination (409)"))
        elif status in ITEM_RETRY_STATUSES or status >= 500:
            results.append(ItemResult("retry", f"{status} {server_reason(result)}"))
        elif (fix := _index_problem(result)) is not None:
            return Verdict.sink_error(
                f"the cluster cannot write to {target!r} ({status} {server_reason(result)}); {fix}; every event is kept"
            )
        elif status in (401, 403):
            return Verdict.sink_error(
                f"not allowed ({status} {server_reason(result)}); grant these credentials {privilege}"
            )
        elif status == 404:
            return Verdict.sink_error(
                f"{target!r} does not exist and the cluster does not create it ({server_reason(result)}); "
                "create it, allow auto-creation, or keep setup = true"
            )
        elif status == 400:
            results.append(ItemResult("reject", server_reason(result)))
        else:
            results.append(ItemResult("retry", f"{status} {server_reason(result)}"))
    outcomes = {r.outcome for r in results}
    if outcomes == {"delivered"}:
        return Verdict.delivered()
    if outcomes == {"duplicate"}:
        return Verdict.duplicate("every event was already at the destination (409)")
    return Verdict.per_item(results)


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


def classify_setup(answer: Answer, target: str, now: float) -> Verdict | None:
    """None when the index template is in place; else why not (a sink_error, or retry when unreachable)."""
    if answer.failure is not None or answer.status is None:
        verdict = no_answer(answer)
    elif 200 <= answer.status < 300:
        if isinstance(answer.body, dict) and answer.body.get("acknowledged") is True:
            return None
        # Both flavors acknowledge a template with {"acknowledged": true}; any other 2xx (a proxy's
        # page, a gateway's "OK") installed nothing, so the sink would write without ECS mappings.
        shown = describe_answer(answer.body, answer.content_type) if not isinstance(answer.body, dict) else (
            f"a JSON answer without \"acknowledged\": true (keys: {', '.join(sorted(map(str, answer.body))[:5]) or 'none'})"
        )
        return Verdict.sink_error(
            f"index template for {target!r}: HTTP {answer.status} with {shown}; that is not how Elasticsearch or "
            "OpenSearch acknowledges a template: check hosts / cloud_id (a proxy may be answering)"
        )
    else:
        privilege = (
            "the 'manage_index_templates' cluster privilege (or set setup = false and install the template yourself)"
        )
        verdict = _request_error(answer, 1, now, target, privilege)
    if verdict.kind == "reject":  # a template is never an event: nothing to dead-letter
        return Verdict.sink_error(f"the index template for {target!r} was refused: {verdict.reason}")
    return Verdict(verdict.kind, f"index template for {target!r}: {verdict.reason}", verdict.retry_after)
