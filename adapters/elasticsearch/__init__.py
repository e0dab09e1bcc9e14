"""The ``elasticsearch`` adapter: ECS documents into Elasticsearch or OpenSearch through ``_bulk``."""

from adapters.elasticsearch.adapter import ElasticsearchAdapter
from adapters.elasticsearch.config import ElasticsearchConfig

__all__ = ["ElasticsearchAdapter", "ElasticsearchConfig"]
