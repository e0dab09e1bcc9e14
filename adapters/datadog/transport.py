"""One attempt at ``POST /api/v2/logs`` with the real ``datadog-api-client``, its own retries off.

SDK exceptions are translated here, at the edge, into the core's
:class:`~shippers.delivery.attempt.Attempt`, which :mod:`classify` reads::

    2xx (body not read; classify accepts    -> Attempt(status)
      only 202)
    ApiException (Unauthorized, Forbidden,  -> Attempt.http(status, body text, headers)
      Service, NotFound...) with a status
    ApiException without a status: the      -> failure "tls"
      SDK's wrapping of urllib3's SSLError
    urllib3 HTTPError, OSError              -> failure "connection" (a read timeout: "timeout")
    ApiTypeError / ApiValueError            -> failure "refused"   (the SDK's checks, before sending)
    UnicodeDecodeError (an error body that  -> failure "unreadable"
      is not UTF-8)
    any other ValueError (http.client:      -> failure "request" (fixed text: the message may hold the key)
      "Invalid header value b'<KEY>\\n'")

``preload_content = False``: the SDK hands back the raw response of a 2xx instead of parsing it
as JSON. The intake's 202 body carries nothing we use, and parsing it made the SDK raise
ApiTypeError *after* the logs were accepted (an empty or HTML body from a proxy), which read
like a pre-send refusal: split, then dead-lettered, and duplicated. With it off, nothing of the
SDK's runs after the request, so an ApiTypeError/ApiValueError is always a pre-send refusal.
Error answers are still read whole by the SDK (``ApiException`` keeps status, headers, body).

Retries: ``enable_retry=False`` turns off the SDK's status retries and ``retry_policy=False``
turns off urllib3's own connection retries, so one call is exactly one request. The body is
gzipped by the SDK (``Content-Encoding: gzip``). The API key goes only into the
``DD-API-KEY`` header; it is scrubbed from anything we pass on. ``timeout`` is the core's
per-attempt timeout (the SDK's ``request_timeout``: connect and read).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import urllib3
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException, ApiTypeError, ApiValueError
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.content_encoding import ContentEncoding
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem

from shippers.delivery.attempt import Attempt, Failure


def to_http_log(logs: Sequence[dict[str, Any]]) -> HTTPLog:
    """The SDK's request body model for these logs (nested attributes pass as additional properties).

    The SDK's per-attribute type checks (``_check_type``) are skipped: they were half of the
    client's CPU per log, and they cannot fail here, because every log was already serialised
    to JSON by :func:`adapters.datadog.encoder.encode_log` when its batch was cut.
    """
    return HTTPLog([HTTPLogItem(**log, _check_type=False) for log in logs], _check_type=False)


class DatadogTransport:
    """A Logs API client bound to one intake URL and key; ``submit`` makes one attempt."""

    def __init__(self, intake: str, api_key: str, timeout: float) -> None:
        self.intake = intake
        self._api_key = api_key
        config = Configuration(host=intake, enable_retry=False, request_timeout=timeout)
        config.retry_policy = False  # urllib3: no connection retries, no redirects either
        config.preload_content = False  # a 2xx body is never parsed (see the module docstring)
        config.api_key["apiKeyAuth"] = api_key
        self._client = ApiClient(config)
        self._api = LogsApi(self._client)

    def submit(self, logs: Sequence[dict[str, Any]]) -> Attempt:
        """POST these logs once, gzipped; whatever happens comes back as a plain value."""
        try:
            body = to_http_log(logs)
            response = self._api.submit_log(body=body, content_encoding=ContentEncoding.GZIP)
        except ApiException as exc:
            if not exc.status:  # the SDK wraps urllib3's SSLError so (see its rest.py)
                return Attempt.failed("tls", self._scrub(" ".join(f"{exc.reason}".split())))
            body_text = exc.body if isinstance(exc.body, str) else json.dumps(exc.body)
            return Attempt.http(int(exc.status), self._scrub(body_text), exc.headers or {})
        except (ApiTypeError, ApiValueError) as exc:
            return Attempt.failed("refused", self._scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        except UnicodeDecodeError:  # a ValueError too: an error answer whose body is not UTF-8 (a proxy's page)
            return Attempt.failed("unreadable", "the intake answered with a body that is not UTF-8")
        except ValueError as exc:  # never the text: http.client quotes the bad header value, i.e. the key
            return Attempt.failed(
                "request", f"the Datadog client raised {type(exc).__name__}; its text is withheld, it may quote the API key"
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Attempt.failed(_no_answer_kind(exc), self._scrub(f"{type(exc).__name__}: {exc}"))
        status = int(response.status)
        response.drain_conn()  # the unread body: discard it so the connection goes back to the pool
        response.release_conn()
        return Attempt(status)

    def _scrub(self, text: str) -> str:
        # The core redacts every reason too; this keeps the key out of the Attempt itself.
        return text.replace(self._api_key, "***") if self._api_key else text

    def close(self) -> None:
        self._client.close()


def _no_answer_kind(exc: BaseException) -> Failure:
    """A timeout, or a connection that failed (urllib3's NewConnectionError subclasses its ConnectTimeoutError)."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection"
    return "timeout" if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError) else "connection"
