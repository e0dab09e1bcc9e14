"""The ``elasticsearch`` sink's own keys (one msgspec struct) and the limits it works within.

Keys common to every sink (``type``, ``route``, ``batch``, ``retry``, ``pii``...) belong to
the core and are not declared here. Cross-key rules (``hosts`` or ``cloud_id``; ``index``
or ``data_stream``; one way to authenticate) are checked in ``__post_init__``, so
``authlog check-config`` reports them with the sink's key path.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec
from elastic_transport.client_utils import parse_cloud_id, url_to_node_config

from adapters.contract import BatchLimits, HardLimits
from shippers.config import Duration, FilePath

Flavor = Literal["elasticsearch", "opensearch"]

# Why: Elastic's bulk tuning guide and CONTRACTS.md say aim for 5-10 MB per request; 2000 events
# (about 1.9 MB of ECS documents) halve the requests of 1000 for ~5 % less CPU per event and ~14 MiB
# more peak memory (bench/peers, one sink), still far under the guide; 1 s keeps a quiet app's events fresh.
BATCH_DEFAULTS = BatchLimits(max_events=2000, max_bytes=5 * 1024 * 1024, timeout=1.0)
# Why: http.max_content_length defaults to 100mb (counted before compression), so no body may pass it.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
# Why: _bulk has no item cap, but every item costs ~300 bytes of answer to parse; 100k bounds that to ~30 MB.
MAX_REQUEST_EVENTS = 100_000
# Why: the smallest http.max_content_length of a hosted offering we know (AWS OpenSearch Service
# on small instances: 10 MiB); a valid event is ~25 KiB at most, so only a runaway item hits it.
MAX_ITEM_BYTES = 10 * 1024 * 1024
HARD_LIMITS = HardLimits(max_events=MAX_REQUEST_EVENTS, max_bytes=MAX_REQUEST_BYTES, max_item_bytes=MAX_ITEM_BYTES)

# Why: DESIGN.md / issue 4: event.dataset defaults to "authlog.events".
DEFAULT_DATASET = "authlog.events"
# Why: with neither index nor data_stream set, documents go to the data stream
# logs-<dataset>-default (Elastic's type-dataset-namespace scheme), which the `logs-*` index
# patterns of Elastic's prebuilt detection rules and Security's default data view cover (issue 13;
# the default was the index "authlog-events" before: set index = "authlog-events" to keep it).
DEFAULT_NAMESPACE = "default"
# Why: a 5 MB bulk is indexed in well under a second on a healthy cluster; 30 s only cuts off a
# stuck connection (the core's retry takes over) and matches the client's own order of magnitude.
DEFAULT_REQUEST_TIMEOUT = 30.0

# Why: Elasticsearch's index-name rules (lower case, no \ / * ? " < > | space , # :, no leading _ - +).
_INDEX_NAME = re.compile(r'^[^A-Z_\-+\\/*?"<>| ,#:][^A-Z\\/*?"<>| ,#:]*$')
# Why: ECS labels are keyword key/value pairs; keys with dots would be read as nested objects.
_LABEL_KEY = re.compile(r"^[A-Za-z0-9_]+$")
# A ``user:password@`` part of a host URL (the client turns it into an Authorization header).
_USERINFO = re.compile(r"//([^/@]*)@")
# Why: secrets travel in an HTTP header, where http.client refuses control characters (and would
# quote the whole header, secret included, in its ValueError).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The keys that hold a secret: masked in repr, trimmed and checked in __post_init__.
_SECRET_KEYS = ("api_key", "password", "bearer_token")
_MASK = "***"


class AwsSigV4(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Sign requests for AWS OpenSearch Service with the default AWS credential chain."""

    region: str
    service: Literal["es", "aoss"] = "es"  # "aoss" for OpenSearch Serverless


class ElasticsearchConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The keys of an ``elasticsearch`` sink (DESIGN.md "Configuration")."""

    hosts: list[str] = msgspec.field(default_factory=list)
    cloud_id: str | None = None
    flavor: Flavor = "elasticsearch"
    index: str | None = None
    data_stream: str | None = None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    aws_sigv4: AwsSigV4 | None = None
    ca_file: FilePath | None = None
    verify_tls: bool = True
    setup: bool = True
    dataset: str = DEFAULT_DATASET
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    request_timeout: Duration = Duration(DEFAULT_REQUEST_TIMEOUT)

    def __post_init__(self) -> None:
        for key in _SECRET_KEYS:  # a secret read from a file (a Kubernetes secret) often ends in a newline
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, value.strip())
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def __repr__(self) -> str:
        """Never show a secret, wherever a config ends up printed."""
        return f"ElasticsearchConfig({', '.join(f'{k}={v!r}' for k, v in self.__rich_repr__())})"

    def __rich_repr__(self) -> Any:
        for key in self.__struct_fields__:
            value = getattr(self, key)
            if key in _SECRET_KEYS and value is not None:
                value = _MASK
            elif key == "hosts":
                value = [_without_userinfo(host) for host in value]
            yield key, value

    @property
    def target(self) -> str:
        """The index or data stream every document is written to (default: ``logs-<dataset>-default``)."""
        return self.data_stream or self.index or default_data_stream(self.dataset)

    @property
    def is_data_stream(self) -> bool:
        return self.index is None


def default_data_stream(dataset: str) -> str:
    """The data stream a sink with neither ``index`` nor ``data_stream`` writes to."""
    return f"logs-{dataset}-{DEFAULT_NAMESPACE}"


def _problems(config: ElasticsearchConfig) -> list[str]:
    problems: list[str] = []
    if not config.hosts and not config.cloud_id:
        problems.append('hosts: required (e.g. ["https://127.0.0.1:9200"]) unless cloud_id is set')
    if config.hosts and config.cloud_id:
        problems.append("cloud_id: set either hosts or cloud_id, not both")
    if config.cloud_id:
        try:
            parse_cloud_id(config.cloud_id)
        except ValueError:
            problems.append("cloud_id: not a Cloud ID; copy it from the Elastic Cloud console (name:base64...)")
    for host in config.hosts:
        try:
            url_to_node_config(host, use_default_ports_for_scheme=True)
        except ValueError:
            problems.append(f"hosts: {_without_userinfo(host)!r} is not a URL like 'https://es.example.com:9200'")
    if config.index is not None and config.data_stream is not None:
        problems.append("data_stream: set either index or data_stream, not both")
    for key, name in (("index", config.index), ("data_stream", config.data_stream)):
        if name is not None and not _INDEX_NAME.match(name):
            problems.append(f'{key}: {name!r} is not a valid name (lower case; no spaces or \\/*?"<>|,#:)')
    for key in _SECRET_KEYS:
        value = getattr(config, key)
        if value == "":
            problems.append(f"{key}: empty (after removing surrounding whitespace)")
        elif value is not None and _CONTROL.search(value):
            problems.append(
                f"{key}: contains a control character (a line break or tab inside the value?); copy it again"
            )
    if config.username is not None and config.password is None:
        problems.append("password: required with username")
    if config.password is not None and config.username is None:
        problems.append("username: required with password")
    auth = {"api_key": config.api_key, "username": config.username, "bearer_token": config.bearer_token}
    ways = [key for key, value in {**auth, "aws_sigv4": config.aws_sigv4}.items() if value is not None]
    if len(ways) > 1:
        problems.append(f"{ways[1]}: choose one way to authenticate, not {' and '.join(ways)}")
    if config.flavor == "opensearch":
        if config.cloud_id:
            problems.append('cloud_id: Elastic Cloud only; with flavor = "opensearch" set hosts')
        if config.api_key:
            problems.append("api_key: OpenSearch has no API keys; use username/password, bearer_token or aws_sigv4")
    elif config.aws_sigv4 is not None:
        problems.append('aws_sigv4: AWS OpenSearch Service only; set flavor = "opensearch"')
    if not config.dataset:
        problems.append("dataset: must not be empty")
    elif config.index is None and config.data_stream is None and not _INDEX_NAME.match(default_data_stream(config.dataset)):
        problems.append(f"dataset: {config.dataset!r} makes no valid data stream name (lower case; no spaces or \\/*?\"<>|,#:)")
    problems += [
        f"labels.{k}: label keys use only letters, digits and '_'" for k in config.labels if not _LABEL_KEY.match(k)
    ]
    if config.request_timeout <= 0:
        problems.append("request_timeout: must be more than 0 s")
    if not config.verify_tls and config.ca_file is not None:
        problems.append("ca_file: has no effect with verify_tls = false; remove one of them")
    return problems


def _without_userinfo(url: str) -> str:
    """A URL safe to print: any ``user:password@`` part removed."""
    return _USERINFO.sub("//", url)
