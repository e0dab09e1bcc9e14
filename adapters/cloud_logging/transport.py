"""The transport: ONE ``entries.write`` attempt through the real ``google-cloud-logging`` client.

The client is ``google.cloud.logging.Client(project, credentials, _use_grpc=False,
client_options={"api_endpoint": endpoint})``, i.e. its JSON-over-HTTP connection, which signs
requests and sets the API headers. We hand its connection the body the encoder built
(``client.logging_api.api_request(POST /entries:write)``, the same call ``write_entries``
makes) instead of calling ``write_entries(dicts)``, which would re-serialise every entry
with ``json.dumps``: slower, and a few percent larger than the bytes the core counted
against the 10 MB cap.

Credentials (first match wins)::

    credentials_file set      a service-account key (or an authorized_user / external_account
                              JSON: workload identity federation), loaded by its declared type
    endpoint is http://...    AnonymousCredentials (a local stand-in; no token over plain HTTP)
    otherwise                 Application Default Credentials (google.auth.default), also for an
                              https:// endpoint (a proxy, Private Service Connect)

google-auth judges a token's age on the wall clock, so a wall clock stepped back would keep
sending a token the service already considers expired (a 401, read as a credentials error). The
transport also times each token's lifetime on the monotonic clock and refreshes it when that
runs out, whatever the wall clock says.

The client's own retries are off: the authorised session never re-sends after a 401
(``max_refresh_attempts=0``; the next attempt refreshes the token instead) and plain
``requests`` adapters do not retry. Nor does it follow redirects: ``requests`` would turn a
301/302 on the POST into a GET (e.g. of a proxy's login page) whose 200 would look like a
write; the 3xx is the answer instead (a sink_error).

A 2xx is passed on as it came: its real status (the session keeps the last response of each
thread; ``api_request`` alone hides it) and its body, parsed here (``expect_json=False``), or
its text when it is not JSON. Only ``200`` with the empty ``WriteLogEntriesResponse`` (``{}``)
acknowledges a write; the classifier decides that. An error answer's body is handed on as
``{"error": {...}}``, Google's shape, whatever shape it came in. Every SDK exception is
translated here, at the edge, into the core's :class:`~shippers.delivery.attempt.Attempt`;
nothing escapes ``write``. Each write is given the core's per-attempt timeout.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

import google.auth
import google.auth._helpers
import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import aws, identity_pool
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest
from google.cloud.logging import Client
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from adapters.cloud_logging.config import CloudLoggingConfig
from shippers.delivery.attempt import Attempt

# Why: the narrowest OAuth scope that allows entries.write (the client's own list includes it).
WRITE_SCOPES = ("https://www.googleapis.com/auth/logging.write",)
WRITE_PATH = "/entries:write"
# Why: fetching a token is one small HTTPS call; 30 s matches the client library's own refresh timeout.
TOKEN_REFRESH_TIMEOUT = 30.0
# Why: a token is refreshed this long before its lifetime ends on the monotonic clock: google-auth's
# own margin on the wall clock (REFRESH_THRESHOLD, 3 min 45 s), so neither clock sends a stale one.
TOKEN_EARLY_REFRESH_SECONDS = 225.0
# Why: enough of an unexpected body to recognise it (an HTML title, a proxy's name) in a status line.
_BODY_SAMPLE_CHARS = 80
# Why: the client library's own default timeout for a request; the core passes the sink's own.
DEFAULT_TIMEOUT_SECONDS = 60.0


class _NoRedirectSession(AuthorizedSession):
    """An AuthorizedSession that never follows a redirect and remembers each thread's last response."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["allow_redirects"] = False
        self._last.response = None
        response = super().request(method, url, *args, **kwargs)
        self._last.response = response
        return response

    def last_response(self) -> requests.Response | None:
        """The response to this thread's latest request (its status is what ``api_request`` does not return)."""
        return getattr(self._last, "response", None)


class CloudLoggingTransport:
    """Owns the client; :meth:`write` makes one attempt and returns an Attempt."""

    def __init__(
        self,
        config: CloudLoggingConfig,
        monotonic: Callable[[], float] = time.monotonic,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._credentials: Credentials | None = None
        self._session: _NoRedirectSession | None = None
        self._refresh_token = False
        self._token: str | None = None  # the token whose lifetime is timed below
        self._token_stale_at = math.inf  # monotonic time to refresh it by

    # -- set-up ------------------------------------------------------------
    def _build_credentials(self) -> Credentials:
        if self.config.credentials_file is not None:
            return load_key_file(str(self.config.credentials_file))
        if self.config.endpoint is not None and self.config.endpoint.startswith("http://"):
            return AnonymousCredentials()  # a local stand-in; a token never travels over plain HTTP
        credentials, _ = google.auth.default(scopes=WRITE_SCOPES)
        return credentials

    def connect(self) -> Attempt | None:
        """Build the client once; an Attempt describes why it could not be built."""
        with self._lock:
            if self._client is not None:
                return None
            try:
                credentials = self._build_credentials()
            except google.auth.exceptions.DefaultCredentialsError as exc:
                return Attempt.failed("credentials", str(exc))
            except (OSError, ValueError) as exc:
                return Attempt.failed("credentials", f"{type(exc).__name__}: {exc}")
            session = _NoRedirectSession(credentials, max_refresh_attempts=0, refresh_timeout=TOKEN_REFRESH_TIMEOUT)
            options: dict[str, Any] = {}
            if self.config.endpoint is not None:
                options["client_options"] = {"api_endpoint": self.config.endpoint.rstrip("/")}
            self._client = Client(
                project=self.config.project, credentials=credentials, _http=session, _use_grpc=False, **options
            )
            self._credentials = credentials
            self._session = session
            return None

    # -- one attempt ----------------------------------------------------------
    def write(self, body: bytes) -> Attempt:
        """POST one ``entries.write`` body; every outcome is an Attempt."""
        problem = self.connect()
        if problem is not None:
            return problem
        assert self._client is not None and self._credentials is not None
        try:
            stale = self._refresh_token or self._monotonic() >= self._token_stale_at
            if stale and not isinstance(self._credentials, AnonymousCredentials):
                self._refresh_token = False
                self._credentials.refresh(AuthRequest(self._session))
            try:
                content = self._client.logging_api.api_request(
                    method="POST",
                    path=WRITE_PATH,
                    data=body,
                    content_type="application/json",
                    expect_json=False,
                    timeout=self.timeout,
                )
            finally:
                self._time_token()
        except api_exceptions.GoogleAPICallError as exc:
            if exc.code == 401:
                self._refresh_token = True  # the token may have been revoked: fetch a new one next time
            return _from_api_error(exc)
        except requests.exceptions.Timeout as exc:
            return Attempt.failed("timeout", type(exc).__name__)
        except requests.exceptions.RequestException as exc:
            return Attempt.failed("connection", _connection_detail(exc))
        except google.auth.exceptions.RefreshError as exc:
            transient = bool(getattr(exc, "retryable", False))
            return Attempt.failed("credentials_transient" if transient else "credentials", f"token refresh failed: {exc}")
        except google.auth.exceptions.TransportError as exc:
            return Attempt.failed("credentials_transient", f"token endpoint unreachable: {exc}")
        except (AttributeError, TypeError, KeyError, ValueError):
            # google-api-core fails while reading an error body it did not expect (a gateway's
            # {"error": "rate limited"}): the answer itself is still here, status and Retry-After included.
            response = self._session.last_response() if self._session is not None else None
            if response is None or response.ok:
                raise
            return _from_error_response(response, message=None)
        assert self._session is not None
        return _from_success(self._session.last_response(), content)

    def _time_token(self) -> None:
        """A token seen for the first time: note when its lifetime ends on the monotonic clock."""
        token = getattr(self._credentials, "token", None)
        expiry = getattr(self._credentials, "expiry", None)
        if token is None or token == self._token or expiry is None:
            return
        self._token = token
        if expiry.tzinfo is not None:  # google-auth's expiries are naive UTC; be safe with any other
            expiry = expiry.astimezone(UTC).replace(tzinfo=None)
        # The wall clock google-auth stamped the expiry with, read right after it fetched the token.
        lifetime = (expiry - google.auth._helpers.utcnow()).total_seconds()
        self._token_stale_at = self._monotonic() + lifetime - TOKEN_EARLY_REFRESH_SECONDS

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._client = None
            self._session = None
            self._credentials = None
            self._token, self._token_stale_at = None, math.inf


def load_key_file(path: str) -> Credentials:
    """Credentials from a JSON key file, by its ``type`` (google-auth's type-specific loaders)."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except FileNotFoundError:
        raise google.auth.exceptions.DefaultCredentialsError(f"credentials_file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise google.auth.exceptions.DefaultCredentialsError(f"credentials_file {path} is not a JSON key file ({type(exc).__name__})") from None
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(info, scopes=WRITE_SCOPES)
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_info(info, scopes=WRITE_SCOPES)
        if kind == "external_account":
            source = info.get("credential_source") or {}
            loader = aws if str(source.get("environment_id", "")).startswith("aws") else identity_pool
            return loader.Credentials.from_info(info, scopes=WRITE_SCOPES)
    except (ValueError, KeyError) as exc:
        # Messages name the missing or malformed field, never a key's contents.
        raise google.auth.exceptions.DefaultCredentialsError(f"credentials_file {path}: {type(exc).__name__}: {exc}") from None
    raise google.auth.exceptions.DefaultCredentialsError(
        f"credentials_file {path} has type {kind!r}; use a service-account key ('service_account'), "
        "'authorized_user' or 'external_account'"
    )


def _from_success(response: requests.Response | None, content: Any) -> Attempt:
    """The status and parsed body of a 2xx answer (which the classifier may still find is no write)."""
    status = response.status_code if response is not None else 0
    headers = response.headers if response is not None else {}
    data = content if isinstance(content, bytes) else str(content or "").encode()
    if not data.strip():
        return Attempt.http(status, None, headers)
    try:
        return Attempt.http(status, json.loads(data), headers)
    except ValueError:  # not JSON (or not UTF-8): a proxy or captive portal, not Cloud Logging
        return Attempt.http(status, data, headers)


def _from_api_error(exc: api_exceptions.GoogleAPICallError) -> Attempt:
    """The status, error body and Retry-After of a non-2xx answer the client library raised for."""
    if exc.response is not None:
        return _from_error_response(exc.response, message=exc.message, details=list(exc.details or []), status=exc.code)
    return Attempt(int(exc.code or 0), {"error": {"message": exc.message, "details": list(exc.details or [])}})


def _from_error_response(
    response: requests.Response, *, message: str | None, details: list[Any] | None = None, status: int | None = None
) -> Attempt:
    """The status, error object and Retry-After of a non-2xx answer, whatever shape its body has."""
    try:
        payload = json.loads(response.content or b"null")
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        if message is None:  # a gateway's own shape ({"error": "rate limited"}, a list, HTML): say what it was, briefly
            sample = error if isinstance(error, str) else " ".join((response.text or "")[:_BODY_SAMPLE_CHARS].split())
            message = f"HTTP {response.status_code} ({sample[:_BODY_SAMPLE_CHARS]!r})"
        error = {"message": message, "details": details or []}
    return Attempt.http(int(status or response.status_code or 0), {"error": error}, response.headers)


def _connection_detail(exc: requests.exceptions.RequestException) -> str:
    """The root cause of a failed connection (e.g. "ConnectionRefusedError: [Errno 111] Connection refused")."""
    cause: BaseException = exc
    seen = 0
    while seen < 10:  # exception chains are short; the bound only guards against cycles
        nxt = cause.__cause__ or cause.__context__
        if nxt is None:
            break
        cause, seen = nxt, seen + 1
    return f"{type(cause).__name__}: {cause}"
