"""The sidecar's aiohttp application: the routes of DESIGN.md "Ingest API" over a Shipper.

::

    POST /v1/events   body -> items (body.py) -> validate -> ONE commit, on the server's threads or in
                      the ingest process (ingest_process.py; ``[server] ingest``, default "process")
                      -> 202 {"accepted", "rejected": [{"index", "error"}], "duplicates"?}   (only after the commit;
                         duplicates: accepted events the store already held, JetStream only)
                      -> 422 same body when nothing was accepted
                      -> 400 / 401 / 413 / 415 {"error": "..."} ; 503 + Retry-After when a sink is full
    GET  /healthz     alive                           (open)
    GET  /readyz      store writable, sinks started   (open; 503 when not)
    GET  /metrics     Prometheus text                 (open)
    GET  /v1/status   shipper.status()                (token)
    GET  /v1/dlq      ?sink=&limit=                   (token)

Commits go through a single dedicated writer thread: SQLite takes one writer at a time
anyway, and a single thread keeps commits in arrival order without lock contention.
Splitting and validation run on their own thread (never on the event loop: a hostile body
must not stall other producers or the probes), so one request is validated while the
previous one commits (SQLite releases the GIL while it writes): ~57k events/s instead of ~48k.

A body is read *before* the request takes one of the ``MAX_INGESTS_IN_FLIGHT`` ingest slots
(split + validate + commit), so a producer that trickles its body only delays itself.
Memory is bounded by a byte budget instead (budget.py): every chunk read reserves its size,
so bodies in memory never exceed ``MAX_INGESTS_IN_FLIGHT`` full bodies; when the budget is
full a request waits up to ``BODY_BUDGET_WAIT_SECONDS`` and is then told to retry (503).

Nothing here logs a token or an event's contents. The shipper counts rejected events in
``authlog_events_rejected_total{reason}`` by a closed-set reason (errors.Rejection), never by field name or value.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import _default_expect_handler  # aiohttp's "100 Continue", sent once our checks pass

from shippers import __version__
from shippers.config import Config
from shippers.errors import AuthlogError, BufferError, BufferFullError, BufferUnavailableError
from shippers.metrics import Metrics, refusal_reason
from shippers.sidecar.auth import check_request
from shippers.sidecar.body import BodyError, BodyLimits, check_headers
from shippers.sidecar.budget import BodyAccount, BudgetExhausted, ByteBudget
from shippers.sidecar.ingest_process import IngestEngine, IngestProcess, ProcessIngest, ThreadIngest
from shippers.sidecar.log_throttle import RepeatFilter
from shippers.sidecar.query import QueryError, check_query, echo, whole_number

log = logging.getLogger("authlog.sidecar")

# Why: each request being split/validated/committed may pin up to max_body_bytes (10 MiB) of
# body plus its items; 8 keeps the worst case near 200 MiB while keeping the writer thread busy.
MAX_INGESTS_IN_FLIGHT = 8
# Why: a producer that trickles its body is cut off (408) after this; it holds no slot meanwhile.
BODY_READ_TIMEOUT_SECONDS = 30.0
# Why: bodies being read may hold, together, as much memory as this many whole bodies.
BODIES_IN_MEMORY = MAX_INGESTS_IN_FLIGHT
# Why: when the bodies in memory fill the budget, a new one waits this long, then gets a 503:
# long enough to ride out a burst, short enough that the producer retries rather than hangs.
BODY_BUDGET_WAIT_SECONDS = 5.0
# Why: a gzip stream of incompressible data is slightly larger than its input; allow the
# compressed body that much beyond max_body_bytes before refusing it unread.
GZIP_OVERHEAD_BYTES = 64 * 1024
# Why: one DLQ page is read in one query and rendered in one response; 1000 keeps both small.
MAX_DLQ_LIMIT = 1000
# Why: a letter may carry 16 KiB of details (older ones far more objects): a page stops once its
# encoded letters pass this, so one answer never holds more than a few MiB ("truncated": true).
MAX_DLQ_PAGE_BYTES = 4 * 1024 * 1024
DEFAULT_DLQ_LIMIT = 100
# Why: a producer told to come back needs a whole number of seconds (RFC 9110 Retry-After).
MIN_RETRY_AFTER_SECONDS = 1
# Why: when draining for shutdown, a producer should retry soon against the restarted sidecar.
SHUTDOWN_RETRY_AFTER_SECONDS = 2
# Why: a store error that names no wait (corrupt, locked by another process) needs a person:
# the same gentle pace the store asks for when it is read-only (buffer/faults.py).
STORE_REFUSED_RETRY_AFTER_SECONDS = 5
# Why: prometheus_client's generate_latest() writes the 0.0.4 text format.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_READ_STEP = 256 * 1024
ENDPOINTS = "POST /v1/events, GET /v1/status, GET /v1/dlq, GET /healthz, GET /readyz, GET /metrics"


class IngestResultLike(Protocol):
    accepted: int
    rejected: list[tuple[int, str]]


class ShipperLike(Protocol):
    """What the sidecar uses of :class:`shippers.shipper.Shipper` (tests pass a fake)."""

    config: Config
    metrics: Metrics

    def validate_raw(self, items: list[bytes], *, start: int = 0, into: Any = None) -> Any: ...
    def commit_validated(self, validated: Any) -> IngestResultLike: ...
    def status(self) -> dict[str, Any]: ...
    def dead_letters(self, sink: str | None, limit: int = DEFAULT_DLQ_LIMIT) -> list[Any]: ...
    def ready(self) -> bool: ...


@dataclass
class SidecarState:
    """Everything the handlers share; one per application."""

    shipper: ShipperLike
    tokens: list[str]
    limits: BodyLimits
    writer: ThreadPoolExecutor
    validators: ThreadPoolExecutor
    budget: ByteBudget
    ingest: IngestEngine
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_INGESTS_IN_FLIGHT))
    closing: bool = False  # set by server.py when SIGTERM arrives: ingest answers 503
    # "the store refused a commit" once a minute (with a count), not once per refused request.
    store_refusals: RepeatFilter = field(default_factory=RepeatFilter)


STATE = web.AppKey("authlog_sidecar_state", SidecarState)


def plain_json(value: Any) -> Any:
    """JSON for the config's int/float/str subclasses (ByteSize, Duration, FilePath) that status documents carry."""
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_encoder = msgspec.json.Encoder(enc_hook=plain_json)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=_encoder.encode(payload), content_type="application/json", headers=headers)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """``{"error": message}``; never raises: text JSON cannot carry (a lone surrogate) is escaped first."""
    try:
        body = _encoder.encode({"error": message})
    except Exception:  # a lone surrogate (a header's non-UTF-8 byte), or not a str at all
        text = str(message).encode("utf-8", "backslashreplace").decode("utf-8")
        body = _encoder.encode({"error": text})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _unauthorized(problem: str) -> web.Response:
    return error_response(401, problem, {hdrs.WWW_AUTHENTICATE: 'Bearer realm="authlog"'})


# -- middleware -------------------------------------------------------------------------------


@web.middleware
async def auth_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    state = request.app[STATE]
    problem = check_request(request.path, request.headers.get(hdrs.AUTHORIZATION), state.tokens)
    if problem is not None:
        return _unauthorized(problem)
    return await handler(request)


@web.middleware
async def query_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Refuse (400) a query parameter the matched route does not take, or one given twice (query.py)."""
    resource = request.match_info.route.resource
    if resource is not None:  # None: no route matched; the 404/405 answer comes from the handler
        try:
            check_query(resource.canonical, [name for name, _ in request.query.items()])
        except QueryError as exc:
            return error_response(400, exc.message)
        except UnicodeDecodeError:
            return error_response(400, "the query string is not UTF-8 once percent-decoded; percent-encode UTF-8 text")
    return await handler(request)


@web.middleware
async def timing_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Observe each answer's duration in ``authlog_http_request_duration_seconds{route,code}`` (outermost: errors too)."""
    started = time.perf_counter()
    status = 500  # a handler that raises past error_middleware (a cancelled request) counts as a failure
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        request.app[STATE].shipper.metrics.observe_request(request.path, status, time.perf_counter() - started)


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Answer every error as ``{"error": ...}``: aiohttp's own 404/405 included, and never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {
            404: f"no such endpoint {request.method} {request.path}; the API is {ENDPOINTS}",
            405: f"{request.method} is not allowed on {request.path}",
        }.get(exc.status, exc.reason)
        return error_response(exc.status, message, {k: v for k, v in exc.headers.items() if k == hdrs.ALLOW})
    except Exception:
        log.exception("unexpected error while handling %s %s", request.method, request.path)
        return error_response(500, "internal error; see the sidecar's log")


# -- ingest -----------------------------------------------------------------------------------


async def read_capped(request: web.Request, cap: int, account: BodyAccount | None = None) -> bytes:
    """The request body, refusing (413) past ``cap`` bytes without reading the rest.

    With ``account``, every chunk read is reserved from the shared body budget (it may wait
    for room, then raise :class:`BudgetExhausted`).
    """
    _check_declared_length(request, cap)
    body = bytearray()
    while True:
        try:
            chunk = await request.content.read(_READ_STEP)
        except ConnectionError:  # the producer hung up mid-body: its own doing, nobody is left to answer
            log.debug("ingest: the client closed the connection before its whole body arrived (%d bytes read)", len(body))
            raise BodyError(400, "the connection closed before the whole body arrived; nothing was stored: resend it") from None
        if not chunk:
            return bytes(body)
        if account is not None:
            await account.reserve(len(chunk), BODY_BUDGET_WAIT_SECONDS)
        body += chunk
        if len(body) > cap:
            raise BodyError(413, f"the body is over server.max_body_bytes ({cap} bytes); send fewer events per request")


async def expect_events(request: web.Request) -> web.StreamResponse | None:
    """``Expect: 100-continue`` on POST /v1/events: refuse before the body is sent when the answer is known.

    aiohttp calls this before any middleware, so the token, the Content-Length cap and the
    Content-Type/Encoding are checked here first; a refusal closes the connection (the body
    the client holds back is never read). Only then is ``100 Continue`` sent.
    """
    state = request.app[STATE]
    problem = check_request(request.path, request.headers.get(hdrs.AUTHORIZATION), state.tokens)
    if problem is not None:
        refusal = _unauthorized(problem)
    elif state.closing:
        refusal = _shutting_down(state)
    else:
        refusal = _refusal_before_body(request, state)
    if refusal is not None:
        refusal.force_close()
        return refusal
    return await _default_expect_handler(request)


def _check_declared_length(request: web.Request, cap: int) -> None:
    """Raise a 413 :class:`BodyError` when the request's Content-Length is over ``cap``."""
    if request.content_length is not None and request.content_length > cap:
        raise BodyError(413, f"the body is {request.content_length} bytes, over server.max_body_bytes; send fewer events per request")


def _body_cap(state: SidecarState, content_encoding: str | None) -> int:
    """The most bytes a body may have on the wire: max_body_bytes, plus gzip's overhead when gzipped."""
    gzipped = "gzip" in (content_encoding or "").lower()
    return state.limits.max_body_bytes + (GZIP_OVERHEAD_BYTES if gzipped else 0)


def _refusal_before_body(request: web.Request, state: SidecarState) -> web.Response | None:
    content_encoding = request.headers.get(hdrs.CONTENT_ENCODING)
    try:
        check_headers(request.headers.get(hdrs.CONTENT_TYPE), content_encoding)
        _check_declared_length(request, _body_cap(state, content_encoding))
    except BodyError as exc:
        return error_response(exc.status, exc.message)
    return None


async def post_events(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.closing:
        return _shutting_down(state)
    content_type = request.headers.get(hdrs.CONTENT_TYPE)
    content_encoding = request.headers.get(hdrs.CONTENT_ENCODING)
    cap = _body_cap(state, content_encoding)
    async with state.budget.hold() as account:
        # 1. read the body, holding no slot: a slow producer delays only itself.
        try:
            async with asyncio.timeout(BODY_READ_TIMEOUT_SECONDS):
                raw = await read_capped(request, cap, account)
        except BodyError as exc:
            return error_response(exc.status, exc.message)
        except TimeoutError:
            return error_response(408, f"the body did not arrive within {BODY_READ_TIMEOUT_SECONDS:.0f}s; send it in one go")
        except BudgetExhausted as exc:
            log.warning("ingest: request bodies fill the memory budget (%s); answering 503", exc)
            state.shipper.metrics.count_refused_request("busy")
            return error_response(
                503, "the sidecar holds too many request bodies right now; nothing was stored: retry the request shortly",
                {hdrs.RETRY_AFTER: str(SHUTDOWN_RETRY_AFTER_SECONDS)},
            )
        # 2. split, validate and commit in a slot, on worker threads or in the ingest process (never on the event loop).
        async with state.slots:
            if state.closing:
                return _shutting_down(state)
            body = [raw]
            del raw  # the engine frees the bytes once they are split
            try:
                result = await state.ingest.run(body, content_type, content_encoding)
            except BodyError as exc:
                return error_response(exc.status, exc.message)
            except RecursionError:
                # A safety net: the validator should reject such an item alone (see the report of issue 10).
                return error_response(
                    400, "an event is nested too deeply to validate (in 'details'?); nothing was stored: flatten it and resend"
                )
            except BufferUnavailableError as exc:  # first: a fleet's unreachable cluster is a BufferFullError too
                return _store_refused(state, exc)
            except BufferFullError as exc:  # the shipper counted the events (authlog_events_refused_total)
                state.shipper.metrics.count_refused_request(refusal_reason(exc))
                retry_after = _whole_seconds(exc.retry_after)
                return error_response(
                    503, f"{exc}; nothing was stored: retry the whole request after {retry_after}s",
                    {hdrs.RETRY_AFTER: str(retry_after)},
                )
            except BufferError as exc:
                return _store_refused(state, exc)
    # The shipper counts rejections (authlog_events_rejected_total{reason=<Rejection>}) as it validates.
    rejected = [{"index": index, "error": message} for index, message in result.rejected]
    log.debug("ingest: %d accepted, %d rejected", result.accepted, len(rejected))
    answer: dict[str, Any] = {"accepted": result.accepted, "rejected": rejected}
    duplicates = getattr(result, "duplicates", 0)
    if duplicates:  # already held (a resend within the stream's duplicate window): counted inside accepted
        answer["duplicates"] = duplicates
    return json_response(202 if result.accepted else 422, answer)


def _whole_seconds(seconds: float) -> int:
    """A Retry-After value: whole seconds, rounded up, at least MIN_RETRY_AFTER_SECONDS."""
    return max(MIN_RETRY_AFTER_SECONDS, math.ceil(seconds))


def _store_refused(state: SidecarState, exc: BufferError) -> web.Response:
    """503 for a store that cannot take writes now (read-only, I/O error, an unreachable cluster), logged and counted."""
    retry_after = _whole_seconds(getattr(exc, "retry_after", STORE_REFUSED_RETRY_AFTER_SECONDS))
    _log_refusal(state, exc, retry_after)
    state.shipper.metrics.count_refused_request(refusal_reason(exc))
    return error_response(
        503, f"the store cannot take events right now ({exc}); nothing was stored: retry after {retry_after}s",
        {hdrs.RETRY_AFTER: str(retry_after)},
    )


def _log_refusal(state: SidecarState, exc: BufferError, retry_after: int) -> None:
    """Log a refused commit through the app's repeat filter: a read-only store would otherwise log every request."""
    if not log.isEnabledFor(logging.WARNING):
        return
    record = log.makeRecord(
        log.name, logging.WARNING, __file__, 0,
        "ingest: the store refused a commit, answering 503 with Retry-After %ds: %s", (retry_after, exc), None,
    )
    if state.store_refusals.filter(record):
        log.handle(record)


def _shutting_down(state: SidecarState) -> web.Response:
    state.shipper.metrics.count_refused_request("shutting_down")
    return error_response(
        503, "the sidecar is shutting down; nothing was stored: retry the request shortly",
        {hdrs.RETRY_AFTER: str(SHUTDOWN_RETRY_AFTER_SECONDS)},
    )


# -- probes, metrics, status, dlq -------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return json_response(200, {"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when ready; else 503 with the reason (``{"status": "not ready", "reason": "the store's disk is full: ..."}``)."""
    state = request.app[STATE]
    if state.closing:
        return json_response(503, {"status": "shutting down"})
    try:
        reason = await asyncio.get_running_loop().run_in_executor(
            None, lambda: state.ingest.not_ready() or _not_ready_reason(state.shipper)  # both may block: off the loop
        )
    except AuthlogError as exc:
        reason = str(exc)
    if reason is None:
        return json_response(200, {"status": "ready"})
    return json_response(503, {"status": "not ready", "reason": reason})


def _not_ready_reason(shipper: ShipperLike) -> str | None:
    explain = getattr(shipper, "not_ready", None)  # a Shipper says why; a bare ShipperLike (test fakes) only ready()
    if callable(explain):
        return explain()
    return None if shipper.ready() else "not ready; see the sidecar's log"


async def metrics(request: web.Request) -> web.Response:
    shipper = request.app[STATE].shipper
    try:
        # status() refreshes the gauges read from the store (lag per sink, buffer bytes/events).
        await asyncio.get_running_loop().run_in_executor(None, shipper.status)
    except AuthlogError as exc:
        log.warning("metrics: could not refresh the store gauges: %s", exc)
    body = shipper.metrics.render()
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: METRICS_CONTENT_TYPE})


async def status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    document = await asyncio.get_running_loop().run_in_executor(None, state.shipper.status)
    halted = state.ingest.halted()
    if halted is not None:  # the ingest process refused the installed code: `authlog status` prints it as an error
        document.setdefault("errors", []).append(f"ingest: {halted}")
    return json_response(200, document)


def dead_letter_json(letter: Any) -> dict[str, Any]:
    """One DLQ entry as JSON: where it was, why, when, and the event as its sink may see it.

    ``pii`` names the treatment the event carries (``email=hash:<key id>;ip=mask;userAgent=keep``);
    null for a letter stored before that existed whose sink is gone: its personal fields are withheld.
    A letter whose stored body does not decode has ``"event": null`` and ``withheld`` (its length and hash).
    """
    shown = {
        "id": letter.id,
        "sink": letter.sink,
        "seq": letter.seq,
        "code": getattr(letter, "code", None),
        "reason": letter.reason,
        "at": letter.at,
        "pii": getattr(letter, "pii", None),
        "event": msgspec.to_builtins(letter.event),
    }
    withheld = getattr(letter, "withheld", None)
    if withheld is not None:
        shown["withheld"] = withheld
    return shown


async def dead_letters(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sink = request.query.get("sink")
    if sink is not None and sink not in state.shipper.config.sinks:
        known = ", ".join(sorted(state.shipper.config.sinks))
        return error_response(400, f"query parameter 'sink': unknown sink '{echo(sink)}'; configured sinks: {known} (leave sink out for all)")
    try:
        limit = whole_number("limit", request.query.get("limit", str(DEFAULT_DLQ_LIMIT)), 1, MAX_DLQ_LIMIT)
    except QueryError as exc:
        return error_response(400, exc.message)
    # Reading, building and encoding all run off the event loop (1000 big letters took ~1.8 s).
    body = await asyncio.get_running_loop().run_in_executor(None, _dead_letter_page, state.shipper, sink, limit)
    return web.Response(status=200, body=body, content_type="application/json")


def _dead_letter_page(shipper: ShipperLike, sink: str | None, limit: int, max_bytes: int = MAX_DLQ_PAGE_BYTES) -> bytes:
    """``{"deadLetters": [...], "truncated": bool}``: up to ``limit`` letters, stopping once past ``max_bytes``.

    ``truncated`` is true when letters were left out to keep the page under ``max_bytes``
    (ask for a smaller ``limit``, or read them all with ``authlog dlq list``). The first letter
    is always included, whatever its size.
    """
    encoded: list[bytes] = []
    size = 0
    letters = shipper.dead_letters(sink, limit)
    for letter in letters:
        item = _encoder.encode(dead_letter_json(letter))
        if encoded and size + len(item) > max_bytes:
            break
        encoded.append(item)
        size += len(item) + 1
    truncated = b"true" if len(encoded) < len(letters) else b"false"
    return b'{"deadLetters":[' + b",".join(encoded) + b'],"truncated":' + truncated + b"}"


async def version(request: web.Request) -> web.Response:
    return json_response(200, {"name": "authlog-shipper", "version": __version__})


# -- the application --------------------------------------------------------------------------


def make_app(shipper: ShipperLike, tokens: list[str], ingest_process: IngestProcess | None = None) -> web.Application:
    """The sidecar application over ``shipper``; ``tokens`` empty means no token is required.

    With ``ingest_process``, bodies are split, validated and committed there (ingest_process.py);
    the application closes it at cleanup.
    """
    server = shipper.config.server
    limits = BodyLimits(max_body_bytes=int(server.max_body_bytes), max_events=server.max_events_per_request)
    app = web.Application(
        middlewares=[timing_middleware, error_middleware, auth_middleware, query_middleware],
        # The body is read by read_capped with our own cap and message; aiohttp's is the backstop.
        client_max_size=limits.max_body_bytes + GZIP_OVERHEAD_BYTES + 1,
        # body.py decompresses with a cap (gzip bombs are a 413) and owns the 400/415 answers;
        # aiohttp's own decoder would inflate without our cap and fail outside our handler.
        handler_args={"auto_decompress": False},
    )
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="authlog-ingest-writer")
    validators = ThreadPoolExecutor(max_workers=1, thread_name_prefix="authlog-ingest-validator")
    budget = ByteBudget(BODIES_IN_MEMORY * (limits.max_body_bytes + GZIP_OVERHEAD_BYTES))
    engine: IngestEngine = (
        ThreadIngest(shipper, limits, validators, writer) if ingest_process is None
        else ProcessIngest(shipper, limits, ingest_process, validators, writer)
    )
    app[STATE] = SidecarState(
        shipper=shipper, tokens=list(tokens), limits=limits, writer=writer, validators=validators, budget=budget, ingest=engine
    )
    app.router.add_post("/v1/events", post_events, expect_handler=expect_events)
    app.router.add_get("/v1/status", status)
    app.router.add_get("/v1/dlq", dead_letters)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", version)

    async def stop_writer(app: web.Application) -> None:
        # Waits for a commit still running, so a cancelled request never leaves half a transaction.
        validators.shutdown(wait=False)
        await asyncio.get_running_loop().run_in_executor(None, lambda: writer.shutdown(wait=True))
        await asyncio.get_running_loop().run_in_executor(None, engine.close)

    app.on_cleanup.append(stop_writer)
    return app
