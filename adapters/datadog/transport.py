"""One attempt at ``POST /api/v2/logs`` through the real ``datadog-api-client``, carrying a body we encoded.

What the SDK provides, as for any of its calls: its ``Configuration`` (the intake host, TLS
verification and CA bundle, proxy settings, its loggers), its ``ApiClient`` (the User-Agent and
default headers), the Logs API's own description of the operation (``LogsApi``'s submit_log
endpoint: its Accept and Content-Type headers and the ``DD-API-KEY`` header its auth setting
names) and its HTTP pool (the rest client's urllib3 ``PoolManager``, or ``ProxyManager`` with a
proxy: keep-alive connections, certificate checks).

What we do instead of ``submit_log(HTTPLog([...]))``: the body. That call builds a model object
per log, turns it back into dicts and ``json.dumps`` the array: ~170 µs of CPU per log, more than
the rest of the pipeline together. Each log was already encoded once when its batch was cut
(:mod:`adapters.datadog.encoder`), so :meth:`DatadogTransport.submit` posts those bytes, gzipped,
with the headers the SDK computes for this operation, through the SDK's pool, the way its rest
client sends every request (``pool_manager.request(..., timeout=Timeout(total=request_timeout))``).

Answers and errors are translated here, at the edge, into the plain values :mod:`classify` reads::

    any status (body read as text, never   -> Attempt.http(status, body, headers)
      parsed; bytes that are not UTF-8 are
      replaced; classify accepts only 202)
    urllib3 HTTPError (refused, reset,      -> failure "connection", "timeout" or "tls"
      timeout, TLS), OSError
    ValueError (http.client: "Invalid       -> failure "request" (fixed text: the message may hold the key)
      header value b'<KEY>\\n'")

Retries: the Configuration's ``retry_policy = False`` reaches the pool, so urllib3 makes exactly
one request and follows no redirect (a 3xx is the answer). A body is never parsed here, so an
empty or HTML body from a proxy can never turn an accepted request into an error. The API key goes only into the ``DD-API-KEY`` header; it is scrubbed from
anything we pass on. ``timeout`` is the core's per-attempt timeout.
"""

from __future__ import annotations

from collections.abc import Sequence

import urllib3
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.model_utils import data_to_dict
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.content_encoding import ContentEncoding

from adapters.datadog.encoder import gzip_body
from shippers.delivery.attempt import Attempt, Failure


def operation_headers(client: ApiClient) -> tuple[str, dict[str, str]]:
    """The URL and headers the SDK sends ``submit_log`` with (gzip body), as plain strings.

    ``gather_params`` is the SDK's own step that turns the operation's description and the
    Configuration's auth settings into headers; the client's default headers (User-Agent) are
    added as ``ApiClient.call_api`` adds them.
    """
    endpoint = LogsApi(client)._submit_log_endpoint  # the SDK's description of POST /api/v2/logs
    params = endpoint.gather_params({"content_encoding": ContentEncoding.GZIP})
    headers = {str(k): str(v) for k, v in data_to_dict({**params["header"], **client.default_headers}).items()}
    return client.configuration.host + endpoint.settings["endpoint_path"], headers


class DatadogTransport:
    """The SDK's client bound to one intake URL and key; ``submit`` makes one attempt."""

    def __init__(self, intake: str, api_key: str, timeout: float) -> None:
        self.intake = intake
        self._api_key = api_key
        config = Configuration(host=intake, enable_retry=False, request_timeout=timeout)
        config.retry_policy = False  # urllib3: no connection retries, no redirects either
        config.api_key["apiKeyAuth"] = api_key
        self._client = ApiClient(config)
        self._pool = self._client.rest_client.pool_manager
        self._url, self._headers = operation_headers(self._client)
        self._timeout = urllib3.Timeout(total=timeout)  # what the SDK's rest client makes of request_timeout

    def submit(self, items: Sequence[bytes]) -> Attempt:
        """POST these encoded logs once, as one gzipped JSON array; whatever happens comes back as a plain value."""
        try:
            response = self._pool.request(
                "POST", self._url, body=gzip_body(items), headers=self._headers, timeout=self._timeout,
                preload_content=False,
            )
        except ValueError as exc:  # never the text: http.client quotes the bad header value, i.e. the key
            if isinstance(exc, urllib3.exceptions.HTTPError):  # some urllib3 errors are ValueErrors too
                return Attempt.failed(_no_answer_kind(exc), self._scrub(f"{type(exc).__name__}: {exc}"))
            return Attempt.failed(
                "request",
                f"the Datadog client raised {type(exc).__name__} (its text is withheld, it may quote the API key); "
                "check the API key (api_key or DD_API_KEY) for stray characters such as a trailing newline",
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Attempt.failed(_no_answer_kind(exc), self._scrub(f"{type(exc).__name__}: {exc}"))
        try:  # the body as text, whatever the status: classify reads it (the intake's 202 carries "{}")
            body = response.read().decode("utf-8", "replace")
            return Attempt.http(response.status, self._scrub(body), dict(response.headers))
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # the answer broke off mid-body
            return Attempt.failed(_no_answer_kind(exc), self._scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            response.release_conn()

    def _scrub(self, text: str) -> str:
        # The core redacts every reason too; this keeps the key out of the Attempt itself.
        return text.replace(self._api_key, "***") if self._api_key else text

    def close(self) -> None:
        self._client.close()


def _no_answer_kind(exc: BaseException) -> Failure:
    """TLS, a timeout, or a connection that failed (urllib3's NewConnectionError subclasses its ConnectTimeoutError)."""
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "tls"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection"
    return "timeout" if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError) else "connection"
