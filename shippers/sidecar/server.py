"""Run the sidecar: check where it may listen, serve the app (TLS optional), shut down in order.

:func:`prepare` does every check that can fail on configuration *before* the store is
opened (exit 2 in the CLI): the listen address, the tokens, the TLS files. :func:`serve`
then opens the shipper, serves until SIGTERM/SIGINT and shuts down within ``grace``
seconds, in the order written where it happens (:func:`_serve`), then returns 0 (also when batches
were left for the restart: they are recorded and resent; the last log line says how many).

While it serves, connections are guarded (connections.py: ``idle_timeout``, and
``max_connections`` derived from the descriptor limit once the store and sinks are open),
the log lines a client can trigger repeatedly are rate-limited (log_throttle.py), and a
malformed request is logged and answered by its error class and code only (quiet.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shippers.config import Config, resolve_tokens, with_default_processes
from shippers.errors import ConfigError
from shippers.heap import freeze_startup_heap
from shippers.listen import split_listen
from shippers.plugins import effective_concurrency
from shippers.sidecar.app import STATE, ShipperLike, make_app
from shippers.sidecar.auth import is_loopback
from shippers.sidecar.connections import derived_max_connections, fd_soft_limit, open_fd_count, start_guarded
from shippers.sidecar.ingest_process import IngestProcess
from shippers.sidecar.log_throttle import throttled
from shippers.sidecar.quiet import quiet_parser_errors

log = logging.getLogger("authlog.sidecar")

# Why: long enough for in-flight batches to reach a healthy destination, short enough for
# Kubernetes' default 30 s terminationGracePeriodSeconds with room to spare.
DEFAULT_GRACE_SECONDS = 20.0
# Why: in-flight ingest requests only need their commit to finish (milliseconds); most of
# the budget is left for the sinks to flush what they already cut.
HTTP_DRAIN_SHARE = 0.25
# Why: listen() backlog: bursts of producer connections queue in the kernel, not as errors.
LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class ListenPlan:
    """Where and how to listen, checked before anything is opened."""

    host: str
    port: int
    tokens: list[str]
    ssl_context: ssl.SSLContext | None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def prepare(config: Config) -> ListenPlan:
    """Check listen address, tokens and TLS; raise :class:`ConfigError` naming the key to fix."""
    server = config.server
    tokens = resolve_tokens(server)
    host, port = split_listen(server.listen)
    if not tokens and not is_loopback(host):
        problem = (
            f"server.listen: '{server.listen}' is reachable from other hosts but no token is configured; "
            "set [server] token = \"${AUTHLOG_TOKEN}\" (or tokens / token_file), or listen on 127.0.0.1"
        )
        raise ConfigError([problem])
    return ListenPlan(host=host, port=port, tokens=tokens, ssl_context=tls_context(config))


def tls_context(config: Config) -> ssl.SSLContext | None:
    """The server TLS context of ``[server] tls_cert``/``tls_key``, or None for plain HTTP."""
    server = config.server
    if not server.tls_cert or not server.tls_key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # Why: TLS 1.2 is the oldest version without known practical attacks (RFC 8996 retired 1.0/1.1).
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(server.tls_cert, server.tls_key)
    except FileNotFoundError as exc:
        raise ConfigError([f"server.tls_cert: cannot read {exc.filename or server.tls_cert}; check tls_cert and tls_key"]) from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError([f"server.tls_cert: {server.tls_cert} and {server.tls_key} are not a usable PEM certificate and key ({exc})"]) from None
    return context


def serve(
    config: Config,
    *,
    grace: float = DEFAULT_GRACE_SECONDS,
    shipper_factory: Callable[[Config], Any] | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> int:
    """Run the sidecar until SIGTERM/SIGINT; returns the exit code (0 after a clean shutdown).

    Raises :class:`ConfigError` (exit 2) before anything is opened, and the shipper's
    errors (store locked or corrupt, port taken: exit 1) as they come.
    """
    plan = prepare(config)
    config = with_default_processes(config, "auto")  # the sidecar delivers from processes unless [delivery] says otherwise
    if shipper_factory is None:
        from shippers.shipper import Shipper

        shipper_factory = Shipper.from_config
    shipper = shipper_factory(config)
    freeze_startup_heap()
    closed = False
    try:
        shipper.start()
        deadline = asyncio.run(_serve(shipper, plan, grace, on_listening))
        # 4. close the shipper with whatever time is left: its workers flush the batches they
        #    already cut (acked ones advance the cursors); the rest is resent after a restart.
        remaining = max(0.0, deadline - time.monotonic())
        log.info("flushing in-flight batches (up to %.1fs)", remaining)
        clean = shipper.close(remaining)
        closed = True
    finally:
        if not closed:
            shipper.close(0.0)
    # Exit 0 either way: what was not delivered is recorded in the store and resent at the next start.
    left = getattr(shipper, "left_for_restart", 0)
    if clean and left == 0:
        log.info("stopped cleanly")
    elif left is None:
        log.info("stopped (batches may be left for the restart: the store did not say how many)")
    else:
        log.info("stopped (%d %s left for the restart)", left, "batch" if left == 1 else "batches")
    return 0


async def _serve(shipper: ShipperLike, plan: ListenPlan, grace: float, on_listening: Callable[[str], None] | None) -> float:
    """Serve until a signal; returns the monotonic deadline by which the shutdown must end."""
    # The parser-error filter runs first, so the throttle counts the rewritten (text-free) records.
    with quiet_parser_errors(), throttled():
        return await _serve_guarded(shipper, plan, grace, on_listening)


def connection_cap(config: Config) -> int:
    """``[server] max_connections``, or the default derived from RLIMIT_NOFILE (call once the store and sinks are open)."""
    soft = fd_soft_limit()
    slots = sum(effective_concurrency(sink) for sink in config.sinks.values())
    derived = derived_max_connections(soft, open_fd_count(), slots)
    chosen = config.server.max_connections
    if chosen is None:
        return derived
    if chosen > derived:
        log.warning(
            "server.max_connections is %d but the file-descriptor limit (%s) leaves room for about %d; "
            "raise the limit (ulimit -n) or lower max_connections", chosen, soft, derived,
        )
    return chosen


async def _serve_guarded(shipper: ShipperLike, plan: ListenPlan, grace: float, on_listening: Callable[[str], None] | None) -> float:
    ingest = None
    if shipper.config.server.ingest == "process":
        ingest = IngestProcess.for_config(shipper.config)
        await asyncio.get_running_loop().run_in_executor(None, ingest.warm)  # fails the start-up if it cannot run
    app = make_app(shipper, plan.tokens, ingest)
    server_config = shipper.config.server
    max_connections = connection_cap(shipper.config)
    try:
        runner, site = await start_guarded(
            app, plan.host, plan.port, max_connections=max_connections, idle_timeout=float(server_config.idle_timeout),
            ssl_context=plan.ssl_context, backlog=LISTEN_BACKLOG, access_log=None, shutdown_timeout=grace * HTTP_DRAIN_SHARE,
        )
    except OSError as exc:
        reason = (exc.strerror or str(exc)).rsplit(": ", 1)[-1].lower()
        raise OSError(f"cannot listen on {plan.host}:{plan.port} ({reason}); change server.listen or stop what uses the port") from None
    port = _bound_port(site) or plan.port
    url = ListenPlan(plan.host, port, plan.tokens, plan.ssl_context).url
    sinks = ", ".join(f"{name} ({sink.common.type})" for name, sink in shipper.config.sinks.items())
    log.info(
        "listening on %s; sinks: %s; token %s; at most %d connections, idle ones closed after %gs", url, sinks,
        "required" if plan.tokens else "not required (loopback)", max_connections, float(server_config.idle_timeout),
    )
    if on_listening is not None:
        on_listening(url)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    deadline = time.monotonic() + grace
    log.info("signal received: shutting down within %.1fs", grace)
    # Shutdown order (every step bounded by the deadline):
    # 1. refuse new ingest (503 + Retry-After on connections still open) and close the
    #    listening socket: the runner stops its sites first;
    # 2. let in-flight ingest requests finish their commit and get their 202 (at most
    #    grace * HTTP_DRAIN_SHARE; a request cut off there got no 202, so its producer resends);
    # 3. join the writer thread (on_cleanup): no commit is left half-done;
    # 4. (in serve) shipper.close(remaining time): flush the batches the sinks already cut.
    app[STATE].closing = True
    await runner.cleanup()
    return deadline


def _bound_port(site: web.BaseSite) -> int | None:
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else None
