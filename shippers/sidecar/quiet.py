"""What the sidecar says about a request aiohttp's parser refuses: its error class and HTTP code, never its bytes.

aiohttp reports a malformed request (``BadHttpMessage``, ``InvalidHeader``, ``LineTooLong``...)
with a traceback quoting the offending raw line, and answers 400 with that same text. The
line may be ``Authorization: Bearer <token>`` or a piece of an event, so both would put
secrets and producer text where they do not belong (the log, the answer).

- :class:`ParserErrorFilter`, installed on ``aiohttp.server`` while the sidecar serves
  (:func:`quiet_parser_errors`), rewrites every record that carries such an exception to
  "a client sent a malformed HTTP request (<class>, HTTP <code>)": no message text, no traceback.
- :class:`QuietRequestHandler` answers such a request ``{"error": ...}`` with a fixed text naming
  the class and code only; :func:`quiet_handler` gives a connection's handler that behaviour.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from shippers.sidecar.log_throttle import filtering

# aiohttp's server-side logger, where parser errors are reported (access logging is off: server.py).
PARSER_LOGGERS = ("aiohttp.server",)


def _code(exc: BaseException) -> int:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) and 400 <= code < 600 else 400


class ParserErrorFilter(logging.Filter):
    """Rewrites a record carrying an aiohttp parser error to its class and code (no text, no traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "a client sent a malformed HTTP request (%s, HTTP %d); its bytes are not logged"
            record.args = (type(exc).__name__, _code(exc))
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


def quiet_parser_errors(names: tuple[str, ...] = PARSER_LOGGERS) -> AbstractContextManager[ParserErrorFilter]:
    """Install a :class:`ParserErrorFilter` on ``names`` for the duration of the block (before any throttle)."""
    return filtering(ParserErrorFilter(), names)


def malformed_answer(exc: BaseException, status: int) -> bytes:
    """The fixed JSON answer to a malformed request: the class and code, none of the request's bytes."""
    return msgspec.json.encode({
        "error": f"the request is not valid HTTP/1.1 ({type(exc).__name__}, HTTP {status}); nothing was stored: fix the client"
    })


class QuietRequestHandler(RequestHandler):
    """aiohttp's handler, answering a request its parser refused with :func:`malformed_answer`."""

    __slots__ = ()

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        self.logger.warning(
            "a client sent a malformed HTTP request (%s, HTTP %d); answered it and closed the connection", type(exc).__name__, status
        )
        if request.writer.output_size > 0:  # as aiohttp: some data already went out, the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        response = web.Response(status=status, body=malformed_answer(exc, status), content_type="application/json")
        response.force_close()
        return response


def quiet_handler(handler: RequestHandler) -> RequestHandler:
    """``handler`` (as web.Server built it, with every option) answering malformed requests quietly.

    web.Server builds plain RequestHandlers and has no hook for the class; QuietRequestHandler
    adds no state (same slots), so switching the class of the new handler is safe.
    """
    if type(handler) is RequestHandler:
        handler.__class__ = QuietRequestHandler
    return handler
