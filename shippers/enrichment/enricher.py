"""The enricher: an event's address and user agent -> its :class:`~shippers.enrichment.model.Enrichment`, cached.

Built once per process from ``[enrich]`` (:func:`build_enricher`; None when nothing is
enabled, so validation pays nothing). Look-ups sit behind LRU caches: authentication traffic
repeats itself (the same browsers all day, the same addresses in a brute force or a stuffing
run), and a cached answer is a dictionary hit instead of a tree walk or a regex scan.
``functools.lru_cache`` is thread-safe, so the sidecar's threads and ``emit()`` callers share one.

A look-up that raises (a damaged database page, a parser bug) costs the event its enrichment, never
the event: it is counted by the look-up that raised (:data:`LOOKUPS`, the label of
``authlog_enrichment_failures_total`` and the keys of status's ``enrichmentFailures``) through the
``on_failure`` callback, logged rate-limited, and never cached, so the next event tries again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from shippers.config import EnrichConfig
from shippers.enrichment.databases import DatabaseProblem, as_from_record, geo_from_record, open_database
from shippers.enrichment.model import AutonomousSystem, Enrichment, Geo, UserAgent, enrichment_of
from shippers.enrichment.user_agent import make_resolver, user_agent_of
from shippers.errors import ConfigError

# Why: a service sees a few thousand distinct User-Agent strings in a day (browser x OS x
# version); 4,096 parsed answers (~1 KiB each with the key) keep the hit rate high in ~4 MiB.
UA_CACHE_ENTRIES = 4096
# Why: addresses repeat within an attack or a login burst; 16,384 answers (~0.5 KiB each) hold
# a busy hour's active clients in ~8 MiB, and a scan of fresh addresses only costs the tree walk.
IP_CACHE_ENTRIES = 16_384
# Why: uap-core's rules match at every position of the text, so a hostile user agent costs time
# in its length: 2,048 chars (the event's limit) of "Mozilla/5.0 (compatible; xxx...spider" took
# ~3.6 ms with the native parser and ~21 ms without (vs ~13 µs / ~0.7 ms for a browser's), a
# ~280x lever for whoever controls the header. Browsers' and apps' user agents fit in ~300 chars
# (in-app browsers are the longest), so the parser sees the first 512: worst ~0.4 ms / ~6 ms.
# The event keeps the whole string; the cache is keyed by the cut text, so tails cannot defeat it.
MAX_PARSED_USER_AGENT_CHARS = 512
# inet_ntop's text of an IPv4-mapped IPv6 address (``::ffff:203.0.113.7``, what a dual-stack
# socket reports for an IPv4 client): MaxMind's own databases alias that range, others (and any
# database written without the alias) do not, so the IPv4 address is what is looked up.
_IPV4_MAPPED = "::ffff:"
# Why: a failing look-up (a damaged database page) must not flood the log at ingest rates:
# the first failure is logged, then one line per this many.
LOG_EVERY_FAILURES = 10_000
# The look-ups an enricher may make, in the order it makes them: a closed set (metric labels, status keys).
GEO, ASN, USER_AGENT = "geo", "asn", "user_agent"
LOOKUPS = (GEO, ASN, USER_AGENT)

log = logging.getLogger(__name__)


class LookUpFailed(Exception):
    """A look-up raised: which one, and the type of what it raised (never its message: it may quote the value)."""

    def __init__(self, lookup: str, error_type: str) -> None:
        super().__init__(lookup, error_type)
        self.lookup, self.error_type = lookup, error_type


def _guarded(lookup: str, look_up: Callable[[str], object] | None, value: str) -> object:
    """``look_up(value)`` (None when that look-up is off); whatever it raises leaves as :class:`LookUpFailed`."""
    if look_up is None:
        return None
    try:
        return look_up(value)
    except Exception as exc:
        raise LookUpFailed(lookup, type(exc).__name__) from None  # the cause is dropped: its text may quote the value


class Enricher:
    """``enricher(ip, user_agent) -> Enrichment | None`` for validated (normalised) values."""

    def __init__(
        self,
        geo: Callable[[str], Geo | None] | None = None,
        as_: Callable[[str], AutonomousSystem | None] | None = None,
        user_agent: Callable[[str], UserAgent | None] | None = None,
        *,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._geo = geo
        self._as = as_
        self._address = functools.lru_cache(maxsize=IP_CACHE_ENTRIES)(self._look_up) if geo or as_ else None
        self._user_agent = functools.lru_cache(maxsize=UA_CACHE_ENTRIES)(self._parse) if user_agent else None
        self._parse_user_agent = user_agent
        # the look-ups this enricher makes, in LOOKUPS order (what metrics and status show, 0 from the start)
        self.lookups = tuple(name for name, on in zip(LOOKUPS, (geo, as_, user_agent), strict=True) if on is not None)
        self.on_failure = on_failure  # called with the LOOKUPS name of each failure (the Shipper's metrics)
        self.failures = 0  # events whose look-up raised: kept, without enrichment

    def _look_up(self, ip: str) -> tuple[Geo | None, AutonomousSystem | None]:
        return _guarded(GEO, self._geo, ip), _guarded(ASN, self._as, ip)  # type: ignore[return-value]

    def _parse(self, text: str) -> UserAgent | None:
        return _guarded(USER_AGENT, self._parse_user_agent, text)  # type: ignore[return-value]

    def __call__(self, ip: str | None, user_agent: str | None) -> Enrichment | None:
        """The enrichment of a valid event; a look-up that fails costs the enrichment, never the event (module docstring)."""
        try:
            geo = as_ = parsed = None
            if ip is not None and self._address is not None:
                geo, as_ = self._address(ip[len(_IPV4_MAPPED):] if ip.startswith(_IPV4_MAPPED) and "." in ip else ip)
            if user_agent is not None and self._user_agent is not None:
                parsed = self._user_agent(user_agent[:MAX_PARSED_USER_AGENT_CHARS])
        except LookUpFailed as failed:  # not cached (lru_cache keeps only answers): the next event looks it up again
            self._count(failed)
            return None
        return enrichment_of(geo, as_, parsed)

    def _count(self, failed: LookUpFailed) -> None:
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure(failed.lookup)
        if self.failures % LOG_EVERY_FAILURES == 1:
            # the type only: a message could quote the address or the user agent
            log.error("enrichment's %s look-up failed with %s (%d failures so far); the events are stored without enrichment",
                      failed.lookup, failed.error_type, self.failures)

    def cache_info(self) -> dict[str, object]:
        """The caches' hits and misses (benchmarks, debugging)."""
        info: dict[str, object] = {}
        if self._address is not None:
            info["address"] = self._address.cache_info()
        if self._user_agent is not None:
            info["userAgent"] = self._user_agent.cache_info()
        return info


def _reader_lookup(key: str, path: str, *, geo: bool) -> Callable[[str], object]:
    reader = open_database(key, path, geo=geo)
    convert = geo_from_record if geo else as_from_record

    def look_up(ip: str) -> object:
        try:
            return convert(reader.get(ip))
        except ValueError:  # an IPv6 address in an IPv4-only database: not known there
            return None

    return look_up


def build_enricher(config: EnrichConfig | None, *, native_user_agent: bool | None = None,
                   on_failure: Callable[[str], None] | None = None) -> Enricher | None:
    """The enricher ``[enrich]`` asks for, or None when it enables nothing; raises ConfigError naming the key.

    ``native_user_agent``: None uses ua-parser's native accelerator when installed (benchmarks force either).
    ``on_failure``: called with the look-up's name (:data:`LOOKUPS`) each time one raises.
    """
    if config is None or (config.geoip_db is None and config.asn_db is None and not config.user_agent):
        return None
    try:
        geo = _reader_lookup("enrich.geoip_db", config.geoip_db, geo=True) if config.geoip_db else None
        as_ = _reader_lookup("enrich.asn_db", config.asn_db, geo=False) if config.asn_db else None
    except DatabaseProblem as exc:  # the file changed since the config was checked
        raise ConfigError([str(exc)]) from None
    parse = None
    if config.user_agent:
        resolve = make_resolver(native_user_agent)

        def parse(text: str) -> UserAgent | None:
            return user_agent_of(resolve(text))

    return Enricher(geo, as_, parse, on_failure=on_failure)  # type: ignore[arg-type]
