"""The composable index template ``open()`` installs: mappings for every field the mapping writes.

One table (:data:`FIELD_TYPES`) gives each field its Elasticsearch type; the ECS ones are
the types ECS defines (checked against the ECS facts by the tests), so ``source.ip`` is an
``ip``, ``@timestamp`` a ``date`` and identifiers ``keyword``. ``authlog.details`` is free
form, so it is one ``flattened`` field (OpenSearch: ``flat_object``, 2.7+): a producer's
``{"k": 1}`` followed by ``{"k": "x"}`` can then never become a mapping error, and its keys
cannot explode the mapping. ``labels.*`` are keywords, as ECS says.

With ``data_stream`` set, the template makes a data stream on first write; with ``index``
it applies to that index when it is auto-created. PUT is idempotent: it replaces the
template with the same content.
"""

from __future__ import annotations

from typing import Any

from adapters.elasticsearch.config import Flavor
from adapters.elasticsearch.mapping import ECS_VERSION

# Why: above the built-in `logs-*-*` template (priority 100) so our mappings win for
# logs-authlog-default, and below 500, which Elasticsearch reserves for its own templates.
TEMPLATE_PRIORITY = 200
TEMPLATE_PREFIX = "authlog-"

FIELD_TYPES: dict[str, str] = {
    "@timestamp": "date",
    "ecs.version": "keyword",
    "event.id": "keyword",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.action": "keyword",
    "event.outcome": "keyword",
    "event.reason": "keyword",
    "event.dataset": "keyword",
    "event.module": "keyword",
    "event.provider": "keyword",
    "message": "match_only_text",
    "user.id": "keyword",
    "user.email": "keyword",
    "user.name": "keyword",
    "related.user": "keyword",
    "related.ip": "ip",
    "source.ip": "ip",
    "source.geo.continent_code": "keyword",
    "source.geo.country_iso_code": "keyword",
    "source.geo.country_name": "keyword",
    "source.geo.region_iso_code": "keyword",
    "source.geo.region_name": "keyword",
    "source.geo.city_name": "keyword",
    "source.geo.postal_code": "keyword",
    "source.geo.timezone": "keyword",
    "source.geo.location": "geo_point",
    "source.as.number": "long",
    "source.as.organization.name": "keyword",
    "user_agent.original": "keyword",
    "user_agent.name": "keyword",
    "user_agent.version": "keyword",
    "user_agent.os.name": "keyword",
    "user_agent.os.version": "keyword",
    "user_agent.os.full": "keyword",
    "user_agent.device.name": "keyword",
    "organization.id": "keyword",
    "trace.id": "keyword",
    "labels": "object",
    "authlog.action": "keyword",
    "authlog.reason_code": "keyword",
    "authlog.ip": "keyword",
    "authlog.schema_version": "long",
    "authlog.details": "flattened",
}

# Why: OpenSearch has no match_only_text (plain text is its equivalent) and calls flattened flat_object.
_OPENSEARCH_TYPES = {"match_only_text": "text", "flattened": "flat_object"}


def template_name(target: str) -> str:
    return TEMPLATE_PREFIX + target


def index_template(target: str, *, data_stream: bool, flavor: Flavor) -> dict[str, Any]:
    """The body of ``PUT _index_template/<template_name(target)>``."""
    properties: dict[str, Any] = {}
    for dotted, es_type in FIELD_TYPES.items():
        *parents, leaf = dotted.split(".")
        node = properties
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}})["properties"]
        if flavor == "opensearch":
            es_type = _OPENSEARCH_TYPES.get(es_type, es_type)
        node[leaf] = {"type": es_type}
    mappings = {
        "dynamic_templates": [
            {
                "labels_as_keywords": {
                    "path_match": "labels.*",
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword"},
                }
            }
        ],
        "properties": properties,
    }
    body: dict[str, Any] = {
        "index_patterns": [target],
        "priority": TEMPLATE_PRIORITY,
        "template": {"mappings": mappings},
        "_meta": {"managed_by": "authlog-shipper", "ecs_version": ECS_VERSION},
    }
    if data_stream:
        body["data_stream"] = {}
    return body
