"""The elasticsearch sink's keys: defaults, cross-key rules and messages that name the key."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from adapters.elasticsearch import ElasticsearchAdapter
from adapters.elasticsearch.config import (
    BATCH_DEFAULTS,
    DEFAULT_DATASET,
    HARD_LIMITS,
    ElasticsearchConfig,
)
from shippers.config import config_from_dict, load_config
from shippers.errors import ConfigError
from shippers.redact import secrets_in


def load(**keys: Any) -> ElasticsearchConfig:
    config = config_from_dict({"sinks": {"search": {"type": "elasticsearch", **keys}}})
    adapter_config = config.sinks["search"].adapter
    assert isinstance(adapter_config, ElasticsearchConfig)
    return adapter_config


def problems(**keys: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load(**keys)
    return str(caught.value)


def test_defaults_match_the_issue() -> None:
    """Data stream logs-authlog.events-default (issue 13), dataset authlog.events, setup and TLS verification on, Elasticsearch flavor."""
    config = load(hosts=["http://127.0.0.1:9200"])
    assert (config.target, config.is_data_stream, config.dataset) == ("logs-authlog.events-default", True, DEFAULT_DATASET)
    assert config.setup is True and config.verify_tls is True and config.flavor == "elasticsearch"
    assert DEFAULT_DATASET == "authlog.events"


def test_the_default_data_stream_is_found_by_the_prebuilt_rules_pattern() -> None:
    """Elastic's prebuilt rules read `logs-*`: the default target matches it, and follows `dataset`; `index` keeps an index."""
    from fnmatch import fnmatchcase

    assert fnmatchcase(load(hosts=["http://127.0.0.1:9200"]).target, "logs-*")
    assert load(hosts=["http://127.0.0.1:9200"], dataset="auth.prod").target == "logs-auth.prod-default"
    kept = load(hosts=["http://127.0.0.1:9200"], index="authlog-events")
    assert (kept.target, kept.is_data_stream) == ("authlog-events", False)
    assert "dataset: 'Auth Prod' makes no valid data stream name" in problems(hosts=["http://127.0.0.1:9200"], dataset="Auth Prod")


def test_batch_defaults_and_hard_limits() -> None:
    """Batches default to 2000 events / 5 MiB / 1 s and never pass http.max_content_length (100 MiB)."""
    assert (BATCH_DEFAULTS.max_events, BATCH_DEFAULTS.max_bytes, BATCH_DEFAULTS.timeout) == (2000, 5 * 1024**2, 1.0)
    assert HARD_LIMITS.max_bytes == 100 * 1024**2
    assert HARD_LIMITS.max_item_bytes < HARD_LIMITS.max_bytes
    assert ElasticsearchAdapter.batch_defaults is BATCH_DEFAULTS and ElasticsearchAdapter.hard_limits is HARD_LIMITS


def test_data_stream_is_the_target() -> None:
    """With data_stream set, documents go to the data stream."""
    config = load(hosts=["http://127.0.0.1:9200"], data_stream="logs-authlog-default")
    assert (config.target, config.is_data_stream) == ("logs-authlog-default", True)


def test_cloud_id_replaces_hosts() -> None:
    """Elastic Cloud needs only cloud_id and an API key."""
    config = load(cloud_id="deployment:ZXhhbXBsZS5jb20kYWJjJGRlZg==", api_key="abc")
    assert config.hosts == [] and config.cloud_id


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "hosts: required"),
        ({"hosts": ["http://a:9200"], "cloud_id": "x:y"}, "either hosts or cloud_id"),
        ({"hosts": ["not a url"]}, "is not a URL"),
        ({"hosts": ["http://a:9200"], "index": "a", "data_stream": "logs-a-b"}, "either index or data_stream"),
        ({"hosts": ["http://a:9200"], "index": "Authlog"}, "index: 'Authlog' is not a valid name"),
        ({"hosts": ["http://a:9200"], "data_stream": "_logs"}, "data_stream: '_logs' is not a valid name"),
        ({"hosts": ["http://a:9200"], "username": "u"}, "password: required with username"),
        ({"hosts": ["http://a:9200"], "password": "p"}, "username: required with password"),
        ({"hosts": ["http://a:9200"], "api_key": "k", "bearer_token": "t"}, "choose one way to authenticate"),
        ({"hosts": ["http://a:9200"], "flavor": "opensearch", "api_key": "k"}, "OpenSearch has no API keys"),
        ({"cloud_id": "x:y", "flavor": "opensearch"}, "cloud_id: Elastic Cloud only"),
        ({"hosts": ["http://a:9200"], "aws_sigv4": {"region": "eu-west-1"}}, 'set flavor = "opensearch"'),
        ({"hosts": ["http://a:9200"], "labels": {"a.b": "x"}}, "labels.a.b: label keys"),
        ({"hosts": ["http://a:9200"], "verify_tls": False, "ca_file": "/tmp/ca.pem"}, "ca_file: has no effect"),
        ({"hosts": ["http://a:9200"], "request_timeout": 0}, "request_timeout: must be more than 0"),
        ({"hosts": ["http://a:9200"], "flavor": "solr"}, "flavor"),
        ({"hosts": ["http://a:9200"], "indx": "a"}, "did you mean 'index'"),
    ],
)
def test_invalid_configs_name_the_key(keys: dict[str, Any], message: str) -> None:
    """Each impossible combination is a config error naming the sink and the key."""
    text = problems(**keys)
    assert "sinks.search" in text
    assert message in text


def test_secrets_include_passwords_in_host_urls() -> None:
    """Every secret the config holds is listed for redaction, including a password inside a host URL."""
    config = load(hosts=["https://elastic:s3cret@es.example.com:9243"], bearer_token="tok")
    assert set(secrets_in(config)) >= {"tok", "elastic:s3cret", "s3cret"}


def test_url_problems_never_print_credentials() -> None:
    """A bad host URL is reported without its user:password part."""
    text = problems(hosts=["https://elastic:s3cret@"])
    assert "s3cret" not in text


def test_cloud_id_is_checked() -> None:
    """A value that is not a Cloud ID is reported at config time, not when the first batch fails."""
    assert "cloud_id: not a Cloud ID" in problems(cloud_id="not-a-cloud-id", api_key="k")


@pytest.mark.parametrize("name", ["elasticsearch.toml", "opensearch.toml"])
def test_example_configs_are_valid(name: str) -> None:
    """The shipped example configs pass the config check (with their environment variables set)."""
    path = Path(__file__).resolve().parents[3] / "examples" / name
    env = {
        "ES_CLOUD_ID": "my-deployment:" + base64.b64encode(b"eu-west-1.aws.found.io$abc$def").decode(),
        "ES_API_KEY": "encoded-key",
        "AUTHLOG_TOKEN": "token",
        "OPENSEARCH_PASSWORD": "pw",
    }
    config = load_config(path, environ=env)
    flavors = {sink.adapter.flavor for sink in config.sinks.values() if sink.common.type == "elasticsearch"}
    assert flavors == {"elasticsearch" if name.startswith("elastic") else "opensearch"}


def test_secrets_are_trimmed_and_control_characters_rejected_without_printing_them() -> None:
    """Surrounding whitespace is stripped from api_key, password and bearer_token; a control character left inside is a config error that does not show the value."""
    assert load(hosts=["http://127.0.0.1:9200"], api_key=" ZW5jb2RlZA==\n").api_key == "ZW5jb2RlZA=="
    assert load(hosts=["http://127.0.0.1:9200"], username="u", password="pw\r\n").password == "pw"
    assert load(hosts=["http://127.0.0.1:9200"], bearer_token="tok\n").bearer_token == "tok"
    for key, extra in (("api_key", {}), ("bearer_token", {}), ("password", {"username": "u"})):
        text = problems(hosts=["http://127.0.0.1:9200"], **{key: "SEKRIT\nPART2", **extra})
        assert f"{key}: contains a control character" in text
        assert "SEKRIT" not in text and "PART2" not in text
    assert "api_key: empty" in problems(hosts=["http://127.0.0.1:9200"], api_key="\n")


def test_repr_never_shows_secrets_or_host_credentials() -> None:
    """repr() and rich's pretty repr mask password, api_key and bearer_token and drop user:pass@ from hosts."""
    from rich.pretty import pretty_repr

    configs = [
        load(hosts=["https://elastic:hostpass@es.example.com:9243"], username="elastic", password="SEKRIT-pw"),
        load(hosts=["https://es.example.com:9243"], api_key="SEKRIT-key"),
        load(hosts=["https://es.example.com:9243"], bearer_token="SEKRIT-token"),
    ]
    for config in configs:
        for text in (repr(config), pretty_repr(config), str(config)):
            assert "SEKRIT" not in text and "hostpass" not in text
            assert "https://es.example.com:9243" in text and "***" in text
    assert "username='elastic'" in repr(configs[0]) and "dataset='authlog.events'" in repr(configs[0])
