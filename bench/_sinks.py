"""The four destinations as the benchmarks use them: far end (fast or stand-in), sink config, batch cap.

One :class:`Destination` per destination, built by a function that takes its options
(``elasticsearch(flavor=...)``, ``s3(format=..., tenants=...)``), so ``bench_fanout`` and the
single-destination scripts describe a sink the same way. Sink number ``i`` of a destination gets
its own index / data stream / prefix, so N sinks into one endpoint never collide on an ``_id``
or a key: each event is then stored N times, once per sink.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import _repo  # noqa: F401 - this checkout first on sys.path, before adapters is imported
import _stand_ins
from endpoints.cloud_logging import start_cloud_logging
from endpoints.datadog import start_datadog
from endpoints.elasticsearch import start_elasticsearch
from endpoints.process import Endpoint
from endpoints.s3 import start_s3

from adapters.cloud_logging.config import HARD_LIMITS as CLOUD_LOGGING_LIMITS
from adapters.datadog.config import HARD_LIMITS as DATADOG_LIMITS
from adapters.elasticsearch.config import HARD_LIMITS as ELASTICSEARCH_LIMITS
from adapters.s3.config import HARD_LIMITS as S3_LIMITS

BUCKET = "bench-archive"
DATADOG_KEY = "bench-dd-key"
PROJECT = "bench-project"
DATA_STREAM = "logs-authlog-default"
# boto3's credential chain needs some credentials; the endpoints (and moto) accept any.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass(frozen=True)
class Destination:
    """What a benchmark needs to know of one destination."""

    label: str  # "elasticsearch", "s3 (ndjson)"...
    name: str  # the sink name; sink i > 0 is name + str(i + 1)
    fast: Callable[[int], Endpoint]  # the counting endpoint, for this many sinks
    stand_in: Callable[[int], Endpoint]  # the shippers.testing stand-in (--stand-in)
    sink: Callable[[str, int], dict[str, Any]]  # (url, i) -> the config of sink number i
    max_batch: int  # the sink's hard cap on events per request (larger batch.max_events is refused)

    def sink_name(self, i: int) -> str:
        return self.name if i == 0 else f"{self.name}{i + 1}"


def _data_stream(i: int) -> str:
    return DATA_STREAM if i == 0 else f"logs-authlog-sink{i + 1}"


def elasticsearch(flavor: str = "elasticsearch") -> Destination:
    def sink(url: str, i: int) -> dict[str, Any]:
        return {"type": "elasticsearch", "hosts": [url], "flavor": flavor, "data_stream": _data_stream(i)}

    return Destination(
        f"elasticsearch ({flavor})" if flavor != "elasticsearch" else "elasticsearch", "es",
        lambda sinks: start_elasticsearch(),
        lambda sinks: _stand_ins.elasticsearch(flavor, tuple(_data_stream(i) for i in range(sinks))),
        sink, ELASTICSEARCH_LIMITS.max_events,
    )  # fmt: skip


def s3(format: str = "ndjson", tenants: bool = False) -> Destination:
    os.environ.update(S3_CREDENTIALS)

    def sink(url: str, i: int) -> dict[str, Any]:
        config = {"type": "s3", "bucket": BUCKET, "endpoint_url": url, "region": "us-east-1",
                  "prefix": "authlog/" if i == 0 else f"authlog-{i + 1}/", "format": format}  # fmt: skip
        ocsf = {"service_name": "bench"} if format != "ndjson" else {}
        if format == "ocsf-parquet":  # Security Lake's layout; i keeps several sinks' sources apart
            ocsf["security_lake"] = {"account_id": "123456789012", "region": "us-east-1",
                                     "sources": {"3002": f"bench_auth_{i}", "3001": f"bench_account_{i}"}}
        return config | ocsf | ({"partition_by": ["tenant"]} if tenants and format != "ocsf-parquet" else {})

    return Destination(f"s3 ({format})", "archive", lambda sinks: start_s3(buckets=(BUCKET,)),
                       lambda sinks: _stand_ins.s3(BUCKET), sink, S3_LIMITS.max_events)  # fmt: skip


def datadog() -> Destination:
    def sink(url: str, i: int) -> dict[str, Any]:
        return {"type": "datadog", "api_key": DATADOG_KEY, "endpoint": url, "hostname": "bench"}

    return Destination("datadog", "dd", lambda sinks: start_datadog(api_key=DATADOG_KEY),
                       lambda sinks: _stand_ins.datadog(DATADOG_KEY), sink, DATADOG_LIMITS.max_events)  # fmt: skip


def cloud_logging() -> Destination:
    def sink(url: str, i: int) -> dict[str, Any]:
        return {"type": "cloud_logging", "project": PROJECT, "endpoint": url}

    return Destination("cloud logging", "gcl", lambda sinks: start_cloud_logging(),
                       lambda sinks: _stand_ins.cloud_logging(PROJECT), sink, CLOUD_LOGGING_LIMITS.max_events)  # fmt: skip
