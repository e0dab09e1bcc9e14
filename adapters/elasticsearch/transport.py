"""One attempt against the cluster, with the SDK's own retries off; SDK exceptions become an :class:`Attempt`.

Two transports, one result type, so one classifier serves both flavors:

- :class:`ElasticsearchTransport`: the official ``elasticsearch`` v9 client. It sends the
  ``compatible-with=9`` media types and insists on the ``X-Elastic-Product`` header.
- :class:`OpenSearchTransport`: ``elastic_transport`` (the HTTP layer under that same
  client, already installed with it) with plain ``application/json`` /
  ``application/x-ndjson`` and no product check, which is what OpenSearch needs
  (CONTRACTS.md). Why not ``opensearch-py``: it is only in the ``demo`` extra, and its
  ``Transport.perform_request`` returns the body alone, so a ``Retry-After`` header on a
  429 would be lost; ``elastic_transport`` gives status, headers and body for every
  answer, with the same pooling, TLS options and gzip as the Elasticsearch path.

Both: ``max_retries=0``, ``retry_on_status=()``, ``retry_on_timeout=False`` (the core
retries, with backoff and Retry-After); bodies gzipped and answers parsed by :mod:`.wire`; the core's
per-attempt timeout as ``request_timeout``. Exceptions are translated at the edge (like httpx's
``map_httpcore_exceptions``) into the core's :class:`~shippers.delivery.attempt.Attempt`::

    a 2xx, or elastic_transport.ApiError      -> Attempt.http(status, body, headers)
      (any non-2xx)
    elasticsearch.UnsupportedProductError     -> failure "product"
    elastic_transport.TlsError                -> failure "tls"
    elastic_transport.ConnectionTimeout       -> failure "timeout"
    elastic_transport.ConnectionError         -> failure "connection"
    elastic_transport.SerializationError      -> failure "unreadable"
    no AWS credentials to sign with (SigV4)   -> failure "credentials"
    ValueError / TypeError building the request -> failure "request", the exception's
                                                  text left out: http.client quotes the refused
                                                  header (``Authorization``, a secret) in it
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, Protocol

import elastic_transport
from elastic_transport.client_utils import url_to_node_config
from elasticsearch import Elasticsearch, UnsupportedProductError

from adapters import compression
from adapters.elasticsearch import bulk_answer, wire
from adapters.elasticsearch.config import ElasticsearchConfig
from shippers.delivery.attempt import Attempt
from shippers.delivery.classify import is_success
from shippers.quoting import folded

# Why: OpenSearch rejects Elasticsearch's vendor media types; these are what both products accept.
_JSON = {"content-type": "application/json", "accept": "application/json"}
_NDJSON = {"content-type": "application/x-ndjson", "accept": "application/json"}
# Why: the classifier reads only these; Logstash asks for the same, and it shrinks a 1000-item
# answer from ~250 KB to ~20 KB to download and parse.
BULK_FILTER_PATH = "errors,items.*.status,items.*.error"
# Why: keeps an SDK's error text (which may quote a long answer) readable in a status line.
_MAX_DETAIL_CHARS = 200


class BulkTransport(Protocol):
    """The two calls the adapter makes; each is exactly one HTTP request."""

    def bulk(self, body: bytes) -> Attempt: ...

    def put_index_template(self, name: str, template: dict[str, Any]) -> Attempt: ...

    def close(self) -> None: ...


def _attempt(call: Callable[[], Any]) -> Attempt:
    """Run one SDK call and translate whatever happens into an Attempt."""
    try:
        meta, body = call()
    except UnsupportedProductError as exc:
        return Attempt(exc.meta.status, failure="product", detail=_short(exc))
    except elastic_transport.ApiError as exc:  # a non-2xx: its body as plain JSON, whatever shape it has
        return Attempt.http(exc.meta.status, bulk_answer.plain(exc.body), exc.meta.headers)
    except elastic_transport.TlsError as exc:
        return Attempt.failed("tls", _short(exc))
    except elastic_transport.ConnectionTimeout as exc:
        return Attempt.failed("timeout", _short(exc))
    except elastic_transport.SerializationError as exc:
        return Attempt.failed("unreadable", _short(exc))
    except elastic_transport.TransportError as exc:  # ConnectionError and anything else below the HTTP layer
        return Attempt.failed("connection", _short(exc))
    except (ValueError, TypeError) as exc:  # elastic_transport re-raises these unwrapped (e.g. an invalid header)
        return Attempt.failed("request", type(exc).__name__)  # never str(exc): it may quote a secret
    if not is_success(meta.status):  # a 3xx the client returned: classified by its status, quoted as plain JSON
        body = bulk_answer.plain(body)
    return Attempt.http(meta.status, body, meta.headers)


def _short(exc: BaseException) -> str:
    message = getattr(exc, "message", None)  # elastic_transport's str() is only "Connection error"
    return folded(str(message) if message else str(exc) or type(exc).__name__, _MAX_DETAIL_CHARS)


class ElasticsearchTransport:
    """The official v9 client, one request per call."""

    def __init__(self, config: ElasticsearchConfig, timeout: float) -> None:
        api_key: str | tuple[str, str] | None = config.api_key
        if config.api_key is not None and ":" in config.api_key:  # "id:secret" rather than the encoded form
            key_id, secret = config.api_key.split(":", 1)
            api_key = (key_id, secret)
        options: dict[str, Any] = {"verify_certs": config.verify_tls}
        if config.ca_file is not None:
            options["ca_certs"] = str(config.ca_file)
        if not config.verify_tls:
            options["ssl_show_warn"] = False  # the user turned verification off on purpose
        self.client = Elasticsearch(
            hosts=config.hosts or None,
            cloud_id=config.cloud_id,
            api_key=api_key,
            basic_auth=(config.username, config.password) if config.username and config.password else None,
            bearer_auth=config.bearer_token,
            http_compress=False,  # compression.gzipped does it, at a cheaper level
            serializers=wire.serializers(),
            max_retries=0,
            retry_on_status=(),
            retry_on_timeout=False,
            request_timeout=timeout,
            **options,
        )
        self._gzip_client = self.client.options(headers=wire.GZIP_HEADERS)

    def bulk(self, body: bytes) -> Attempt:
        def call() -> tuple[Any, Any]:
            # bytes pass through wire.VerbatimNdjson unchanged
            return _pair(self._gzip_client.bulk(operations=compression.gzipped(body), filter_path=BULK_FILTER_PATH))  # type: ignore[arg-type]

        return _attempt(call)

    def put_index_template(self, name: str, template: dict[str, Any]) -> Attempt:
        return _attempt(lambda: _pair(self.client.indices.put_index_template(name=name, body=template)))

    def close(self) -> None:
        self.client.close()


def _pair(response: Any) -> tuple[Any, Any]:
    return response.meta, response.body


class OpenSearchTransport:
    """Plain JSON / NDJSON over ``elastic_transport`` (see the module docstring for why)."""

    def __init__(self, config: ElasticsearchConfig, timeout: float) -> None:
        auth: dict[str, str] = {}
        if config.username is not None and config.password is not None:
            token = base64.b64encode(f"{config.username}:{config.password}".encode()).decode()
            auth["authorization"] = f"Basic {token}"
        elif config.bearer_token is not None:
            auth["authorization"] = f"Bearer {config.bearer_token}"
        self._signer = _SigV4Signer(config) if config.aws_sigv4 is not None else None
        nodes = []
        for host in config.hosts:
            node = url_to_node_config(host, use_default_ports_for_scheme=True)
            tls: dict[str, Any] = {}
            if node.scheme == "https":
                tls = {"verify_certs": config.verify_tls, "ssl_show_warn": config.verify_tls}
                if config.ca_file is not None:
                    tls["ca_certs"] = str(config.ca_file)
            nodes.append(
                node.replace(
                    headers={**node.headers, **auth},
                    http_compress=False,  # _request gzips (compression.gzipped), before signing when it signs
                    request_timeout=timeout,
                    **tls,
                )
            )
        self.transport = elastic_transport.Transport(
            nodes,
            max_retries=0,
            retry_on_status=(),
            retry_on_timeout=False,
            serializers=wire.serializers(),
        )

    def bulk(self, body: bytes) -> Attempt:
        return self._request("POST", f"/_bulk?filter_path={BULK_FILTER_PATH}", body, _NDJSON)

    def put_index_template(self, name: str, template: dict[str, Any]) -> Attempt:
        body = self.transport.serializers.dumps(template, mimetype="application/json")
        return self._request("PUT", f"/_index_template/{name}", body, _JSON)

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Attempt:
        compressed, headers = compression.gzipped(body), {**headers, **wire.GZIP_HEADERS}
        if self._signer is None:
            return _attempt(lambda: self.transport.perform_request(method, path, body=compressed, headers=headers))
        try:
            wire_body, wire_headers = self._signer.sign(method, path, compressed, headers)
        except Exception as exc:
            return Attempt.failed("credentials", _short(exc))
        return _attempt(lambda: self.transport.perform_request(method, path, body=wire_body, headers=wire_headers))

    def close(self) -> None:
        self.transport.close()


class _SigV4Signer:
    """AWS Signature V4 for AWS OpenSearch Service (``es``) and Serverless (``aoss``), via botocore."""

    def __init__(self, config: ElasticsearchConfig) -> None:
        import boto3  # type: ignore[import-untyped]  # a core dependency, imported only when signing

        assert config.aws_sigv4 is not None
        self.region = config.aws_sigv4.region
        self.service = config.aws_sigv4.service
        self.endpoint = config.hosts[0].rstrip("/")
        self.session = boto3.Session()

    def sign(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """The headers signing ``body`` (already gzipped: the signature covers the bytes on the wire)."""
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]  # botocore ships no stubs
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

        credentials = self.session.get_credentials()
        if credentials is None:
            raise LookupError("no AWS credentials found (environment, shared profile or instance role)")
        # Why: OpenSearch Serverless requires the payload hash as a header; the managed service accepts it.
        signed = {**headers, "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
        request = AWSRequest(method=method, url=self.endpoint + path, data=body, headers=signed)
        SigV4Auth(credentials.get_frozen_credentials(), self.service, self.region).add_auth(request)
        return body, dict(request.headers.items())


def make_transport(config: ElasticsearchConfig, timeout: float) -> BulkTransport:
    """The transport for the configured flavor; ``timeout`` is the core's per-attempt timeout (seconds)."""
    if config.flavor == "opensearch":
        return OpenSearchTransport(config, timeout)
    return ElasticsearchTransport(config, timeout)
