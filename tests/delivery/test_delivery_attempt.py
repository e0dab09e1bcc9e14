"""One attempt type every transport returns, and the per-attempt timeout the core resolves for each sink."""

from __future__ import annotations

import pytest

from adapters.cloud_logging import CloudLoggingAdapter
from adapters.cloud_logging.config import CloudLoggingConfig
from adapters.contract import Adapter, SinkContext, resolve_attempt_timeout
from adapters.datadog import DatadogAdapter
from adapters.datadog.config import DatadogConfig
from adapters.elasticsearch import ElasticsearchAdapter
from adapters.elasticsearch.config import ElasticsearchConfig
from adapters.s3 import S3Adapter
from adapters.s3.config import S3Config
from shippers.catalog import builtin_catalog
from shippers.config import Duration
from shippers.delivery.attempt import Attempt


def test_http_answers_pick_the_generic_headers_in_any_letter_case() -> None:
    """Retry-After, Date, Content-Type and Location get fields of their own; every header stays, lower-cased."""
    answer = Attempt.http(503, "busy", {"RETRY-AFTER": "4", "date": "Wed, 25 Nov 2026 19:35:03 GMT",
                                        "Content-Type": "text/plain", "Location": "/x", "X-Amz-Bucket-Region": "eu"})  # fmt: skip
    assert (answer.retry_after, answer.date, answer.content_type, answer.location) == (
        "4", "Wed, 25 Nov 2026 19:35:03 GMT", "text/plain", "/x"
    )
    assert answer.headers["x-amz-bucket-region"] == "eu" and answer.answered


def test_a_failure_is_no_answer_even_with_a_status() -> None:
    """A failure kind means no usable answer, whatever status came with it (a 200 from a server that is not the product)."""
    assert not Attempt.failed("timeout", "read timed out").answered
    assert not Attempt(200, failure="product").answered


@pytest.mark.parametrize(
    ("override", "configured", "expected"),
    [(None, None, 30.0), (None, 5.0, 5.0), (2.0, 5.0, 2.0), (None, 0, 30.0), (None, True, 30.0), (-1.0, 7, 7.0)],
)
def test_the_timeout_is_the_cores_override_then_the_users_key_then_the_default(
    override: float | None, configured: object, expected: float
) -> None:
    """The core's override wins, then the adapter's key, then its default; nothing but a positive number counts."""
    assert resolve_attempt_timeout(override, configured, 30.0) == expected


ADAPTERS: list[tuple[type[Adapter], dict[str, object], float]] = [
    (ElasticsearchAdapter, {"hosts": ["http://127.0.0.1:9"]}, 30.0),
    (DatadogAdapter, {"api_key": "k" * 32, "hostname": "h"}, 30.0),
    (CloudLoggingAdapter, {"project": "p-123456", "endpoint": "http://127.0.0.1:9"}, 30.0),
    (S3Adapter, {"bucket": "auth-logs", "region": "us-east-1"}, 60.0),
]
CONFIGS = {ElasticsearchAdapter: ElasticsearchConfig, DatadogAdapter: DatadogConfig,
           CloudLoggingAdapter: CloudLoggingConfig, S3Adapter: S3Config}  # fmt: skip


def _build(cls: type[Adapter], keys: dict[str, object], **context: object) -> Adapter:
    config = CONFIGS[cls](**keys)  # type: ignore[arg-type]
    return cls(SinkContext("sink", builtin_catalog(), lambda: 0.0, **context), config)  # type: ignore[arg-type]


@pytest.mark.parametrize(("cls", "keys", "default"), ADAPTERS, ids=[a[0].name for a in ADAPTERS])
def test_every_sink_gets_the_cores_attempt_timeout(cls: type[Adapter], keys: dict[str, object], default: float) -> None:
    """Each adapter's request_timeout key sets the sink's attempt timeout (default unchanged); the core's override wins."""
    assert _build(cls, keys).context.attempt_timeout == default
    assert _build(cls, {**keys, "request_timeout": Duration(7.0)}).attempt_timeout == 7.0
    assert _build(cls, {**keys, "request_timeout": Duration(7.0)}, attempt_timeout=2.0).context.attempt_timeout == 2.0


def test_transports_are_given_the_attempt_timeout() -> None:
    """The timeout reaches each SDK: S3's read timeout, Datadog's and Cloud Logging's request timeout."""
    s3 = _build(S3Adapter, {"bucket": "auth-logs", "region": "us-east-1", "request_timeout": Duration(7.0)})
    assert s3.transport.timeout == 7.0  # type: ignore[attr-defined]
    gcl = _build(CloudLoggingAdapter, {"project": "p-123456", "endpoint": "http://127.0.0.1:9"}, attempt_timeout=4.0)
    assert gcl.transport.timeout == 4.0  # type: ignore[attr-defined]
    dd = _build(DatadogAdapter, {"api_key": "k" * 32, "hostname": "h"}, attempt_timeout=3.0)
    assert dd._transport._client.configuration.request_timeout == 3.0  # type: ignore[attr-defined]
