"""The ``elasticsearch`` adapter: ECS documents into Elasticsearch or OpenSearch through ``_bulk``."""

from adapters.sdk import importing_sdk

with importing_sdk("elasticsearch", "elasticsearch", "elasticsearch", "elastic_transport"):  # the SDK is the [elasticsearch] extra
    from adapters.elasticsearch.adapter import ElasticsearchAdapter
    from adapters.elasticsearch.config import ElasticsearchConfig

__all__ = ["ElasticsearchAdapter", "ElasticsearchConfig"]
