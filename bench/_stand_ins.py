"""The pure-Python stand-ins of ``shippers.testing`` as far ends (``--stand-in``), each in a spawned child.

Slower than ``bench/endpoints`` (they model faults and store every document), so a figure taken
against them says more about the stand-in than the shipper; kept to compare with older runs.
Each child answers the same pipe protocol as the counting endpoints (``endpoints.process.answer``),
with a :class:`~endpoints.tally.Counted` built from what the stand-in stored.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from multiprocessing.connection import Connection

from endpoints.process import Endpoint, answer
from endpoints.tally import Counted


def _counted(ids: Iterable[str], requests: int = 0, objects: int = 0) -> Counted:
    copies = Counter(ids)
    return Counted(sum(copies.values()), len(copies), 0, requests, objects)


def _serve_elasticsearch(conn: Connection, flavor: str, indices: tuple[str, ...]) -> None:
    from shippers.testing.fake_elasticsearch import FakeElasticsearch

    with FakeElasticsearch(flavor=flavor) as fake:  # type: ignore[arg-type]

        def count() -> Counted:
            return _counted(doc_id for index in indices for doc_id in fake.documents(index))

        answer(conn, fake.url, count, fake.reset)


def _serve_s3(conn: Connection, bucket: str) -> None:
    from shippers.testing.moto_s3 import CREDENTIALS, MotoS3

    os.environ.update(CREDENTIALS)
    with MotoS3() as s3:
        s3.make_bucket(bucket)

        def count() -> Counted:
            objects = s3.read_lines(bucket)
            ids = (line.get("id") or line["metadata"]["uid"] for lines in objects.values() for line in lines)
            return _counted(ids, objects=len(objects))

        def reset() -> None:
            client = s3.client()
            for key in s3.keys(bucket):
                client.delete_object(Bucket=bucket, Key=key)

        answer(conn, s3.url, count, reset)


def _serve_datadog(conn: Connection, api_key: str) -> None:
    from shippers.testing.fake_datadog import FakeDatadog

    with FakeDatadog(api_key=api_key) as fake:
        answer(conn, fake.url, lambda: _counted(item["evt"]["id"] for item in fake.items()), fake.reset)


def _serve_cloud_logging(conn: Connection, project: str) -> None:
    from shippers.testing.fake_cloud_logging import FakeCloudLogging

    with FakeCloudLogging(projects=(project,)) as fake:

        def count() -> Counted:
            return _counted(insert_id for insert_id, copies in fake.by_insert_id().items() for _ in copies)

        answer(conn, fake.url, count, fake.reset)


def elasticsearch(flavor: str, indices: tuple[str, ...]) -> Endpoint:
    """The Elasticsearch (or OpenSearch) stand-in, counting the documents of these indices or data streams."""
    return Endpoint(_serve_elasticsearch, flavor, indices)


def s3(bucket: str) -> Endpoint:
    return Endpoint(_serve_s3, bucket)


def datadog(api_key: str) -> Endpoint:
    return Endpoint(_serve_datadog, api_key)


def cloud_logging(project: str) -> Endpoint:
    return Endpoint(_serve_cloud_logging, project)
