"""A fast counting Datadog Logs intake: ``POST /api/v2/logs``, as datadog-api-client sees it answer.

Answers (Logs API v2 reference; CONTRACTS.md, Datadog; ``adapters/datadog`` accepts only 202)::

    POST /api/v2/logs   JSON array of logs (or one log), plain, gzip or deflate
        wrong or missing DD-API-KEY (when a key is set)     -> 403 {"errors": ["Forbidden"]}
        more than 1000 logs, or over 5 MiB uncompressed     -> 413
        not a JSON array of objects                         -> 400
        otherwise                                           -> 202 {}   (counted)
    anything else       404 {"errors": ["Not found"]}

Counting: a log's id is ``evt.id`` (what our mapping writes). Datadog keeps no ids, so a
resent log is stored twice: ``events`` counts every accepted log, ``distinct`` its ids.
Not modelled: truncation of logs over 1 MB, the 18 h age window, throttling (the stand-in
``shippers.testing.fake_datadog`` has those).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .http_core import BodyError, Request, Response, decoded
from .process import Endpoint, start
from .tally import Counting

INTAKE_PATH = "/api/v2/logs"
# Why: the Logs API v2 reference: "Maximum array size if sending multiple logs in an array: 1000 entries".
MAX_LOGS_PER_REQUEST = 1000
# Why: "Maximum content size per payload (uncompressed): 5MB", read generously (MiB) as the stand-in does.
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024
_JSON = {"Content-Type": "application/json"}


class _Evt(msgspec.Struct):
    id: str | None = None


class _Log(msgspec.Struct):
    evt: _Evt | None = None


_decode_logs = msgspec.json.Decoder(list[_Log] | _Log).decode


def _answer(status: int, body: bytes) -> Response:
    return Response(status, body, _JSON)


def _errors(status: int, *messages: str) -> Response:
    return _answer(status, msgspec.json.encode({"errors": list(messages)}))


class DatadogApp(Counting):
    """The intake: checks the key and the limits, counts the logs it accepts."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        super().__init__()

    def handle(self, request: Request) -> Response:
        if request.path != INTAKE_PATH or request.method != "POST":
            return _errors(404, "Not found")
        if self.api_key is not None and request.headers.get("dd-api-key") != self.api_key:
            return _errors(403, "Forbidden")
        try:
            data = decoded(request)
        except BodyError as exc:
            return _errors(400, str(exc))
        if len(data) > MAX_PAYLOAD_BYTES:
            return _errors(413, f"Payload too large: {len(data)} bytes uncompressed, at most {MAX_PAYLOAD_BYTES}")
        try:
            parsed: Any = _decode_logs(data)
        except msgspec.DecodeError as exc:
            return _errors(400, f"Malformed payload: {exc}")
        logs = parsed if isinstance(parsed, list) else [parsed]
        if len(logs) > MAX_LOGS_PER_REQUEST:
            return _errors(413, f"{len(logs)} logs in one request, at most {MAX_LOGS_PER_REQUEST}")
        self.tally.stored([log.evt.id if log.evt is not None else None for log in logs])
        self.tally.requests += 1
        return _answer(202, b"{}")


def start_datadog(api_key: str | None = None, **options: Any) -> Endpoint:
    """A counting Datadog intake in its own process (``api_key``: the DD-API-KEY it demands, if any)."""
    return start(DatadogApp, api_key=api_key, **options)
