"""A fast counting Cloud Logging ``entries.write``, as google-cloud-logging's HTTP client sees it answer.

Answers (v2 REST reference; CONTRACTS.md, Cloud Logging; ``adapters/cloud_logging`` accepts only
``200 {}``)::

    POST /v2/entries:write   {"entries": [...], "logName"?, "resource"?, "partialSuccess"?}
        body over 10 MiB                                     -> 400 INVALID_ARGUMENT
        not that JSON object, or an entry with no logName
        or resource (its own or the request's)              -> 400 INVALID_ARGUMENT
        otherwise                                           -> 200 {}   (the empty WriteLogEntriesResponse)
    anything else            404 NOT_FOUND

Errors use Google's JSON error shape ``{"error": {"code", "message", "status"}}``.
Counting: an entry's id is its ``insertId``. Cloud Logging keeps every copy and removes
duplicates only when queried, so ``events`` counts every entry and ``distinct`` the insertIds.
Not modelled: per-entry partial errors, time windows, auth (``shippers.testing.fake_cloud_logging``
has those).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .http_core import BodyError, Request, Response, decoded
from .process import Endpoint, start
from .tally import Counting

WRITE_PATH = "/v2/entries:write"
# Why: the quotas page: "Size of an entries.write request: 10 MB".
MAX_REQUEST_BYTES = 10 * 1024 * 1024
_JSON = {"Content-Type": "application/json; charset=UTF-8"}


class _Resource(msgspec.Struct):
    type: str


class _Entry(msgspec.Struct):
    insertId: str | None = None  # the API's field names are camelCase
    logName: str | None = None
    resource: _Resource | None = None


class _Write(msgspec.Struct):
    entries: list[_Entry]
    logName: str | None = None
    resource: _Resource | None = None


_decode_write = msgspec.json.Decoder(_Write).decode


def google_error(status: int, code: str, message: str) -> Response:
    body = msgspec.json.encode({"error": {"code": status, "message": message, "status": code}})
    return Response(status, body, _JSON)


class CloudLoggingApp(Counting):
    """``entries.write``: checks the request's shape and counts the entries by insertId."""

    def handle(self, request: Request) -> Response:
        if request.path != WRITE_PATH or request.method != "POST":
            return google_error(404, "NOT_FOUND", f"{request.method} {request.raw_path} is not served here")
        try:
            data = decoded(request)
        except BodyError as exc:
            return google_error(400, "INVALID_ARGUMENT", str(exc))
        if len(data) > MAX_REQUEST_BYTES:
            return google_error(400, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes.")
        try:
            write = _decode_write(data)
        except msgspec.DecodeError as exc:
            return google_error(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
        for index, entry in enumerate(write.entries):
            if (entry.logName or write.logName) is None or (entry.resource or write.resource) is None:
                return google_error(400, "INVALID_ARGUMENT", f"entries[{index}]: logName and resource are required")
        self.tally.stored([entry.insertId for entry in write.entries])
        self.tally.requests += 1
        return Response(200, b"{}", _JSON)


def start_cloud_logging(**options: Any) -> Endpoint:
    """A counting ``entries.write`` endpoint in its own process."""
    return start(CloudLoggingApp, **options)
