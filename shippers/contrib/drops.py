"""Events the integration did not ship, counted in the app's own Prometheus registry and logged once a minute.

``authlog_app_dropped_total{reason}`` lives in the registry the app already exposes (prometheus_client's
default ``REGISTRY`` unless the app passes its own), so the app's ``/metrics`` shows it without the
shipper's. Reasons are a closed set (``DROP_REASONS``), never producer text. A log line says what was
lost at most once per ``LOG_EVERY_SECONDS``, with the counts by reason since the last line: a sidecar
that stays down costs one line a minute, not one per login.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter as Tally
from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter

log = logging.getLogger("shippers.contrib")  # a shippers.* logger: AuthEventHandler never ships it back

METRIC = "authlog_app_dropped"
DROP_REASONS = (
    "sidecar_timeout",      # sidecar mode, on_slow = drop: no answer in time (the budget passed, then the send's timeout)
    "sidecar_unavailable",  # sidecar mode, on_slow = drop: nothing listens, or a 5xx / 503 (its store full)
    "sidecar_busy",         # sidecar mode, on_slow = drop: every send slot held by earlier slow sends
    "sidecar_rejected",     # the sidecar refused the event (422) or the request (400, 401, 413): fix the app or the token
    "spool_full",           # the spool reached spool_max_bytes, or its disk is full
    "spool_unavailable",    # the spool cannot be written (read-only, I/O error, locked)
    "store_full",           # embedded mode: emit() found the store full past [buffer] emit_timeout
    "store_unavailable",    # embedded mode: the store takes no writes
    "invalid",              # the event failed the catalog's checks here (a type the catalog lacks, a bad reason)
    "not_configured",       # the settings have problems (logged; `manage.py check` lists them)
    "internal_error",       # the integration failed unexpectedly (logged with the exception type only)
)
# Why: one line a minute keeps an outage visible in the app's log without flooding it.
LOG_EVERY_SECONDS = 60.0

_counters: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()
_counters_lock = threading.Lock()


def dropped_counter(registry: CollectorRegistry | None = None) -> Counter:
    """The one ``authlog_app_dropped_total`` of ``registry`` (created once: a registry refuses a second)."""
    target = REGISTRY if registry is None else registry
    with _counters_lock:
        counter = _counters.get(target)
        if counter is None:
            counter = Counter(METRIC, "Auth events the app's integration did not ship, by reason (a closed set).",
                              ["reason"], registry=target)
            for reason in DROP_REASONS:
                counter.labels(reason)  # every reason exported from the start (0), and no others
            _counters[target] = counter
        return counter


class DropCounter:
    """Count a drop by reason and say so in the log, at most once per LOG_EVERY_SECONDS."""

    def __init__(self, registry: CollectorRegistry | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.counter = dropped_counter(registry)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._logged_at: float | None = None
        self._unlogged: Tally[str] = Tally()

    def __call__(self, reason: str, detail: str = "") -> None:
        """Count one event not shipped; ``detail`` is the integration's own words (never producer text)."""
        if reason not in DROP_REASONS:
            reason = "internal_error"
        self.counter.labels(reason).inc()
        now = self._monotonic()
        with self._lock:
            self._unlogged[reason] += 1
            if self._logged_at is not None and now - self._logged_at < LOG_EVERY_SECONDS:
                return
            counts, self._unlogged = self._unlogged, Tally()
            since = "start" if self._logged_at is None else "the last report"
            self._logged_at = now
        summary = ", ".join(f"{reason}={n}" for reason, n in sorted(counts.items()))
        log.warning("authlog: auth events not shipped since %s: %s%s; counted in %s_total{reason}",
                    since, summary, f" ({detail})" if detail else "", METRIC)
