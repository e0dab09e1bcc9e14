"""The enricher: an event's address and user agent -> its :class:`~shippers.enrichment.model.Enrichment`, cached.

Built once per process from ``[enrich]`` (:func:`build_enricher`; None when nothing is
enabled, so validation pays nothing). Look-ups sit behind LRU caches: authentication traffic
repeats itself (the same browsers all day, the same addresses in a brute force or a stuffing
run), and a cached answer is a dictionary hit instead of a tree walk or a regex scan.
``functools.lru_cache`` is thread-safe, so the sidecar's threads and ``emit()`` callers share one.
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

log = logging.getLogger(__name__)


class Enricher:
    """``enricher(ip, user_agent) -> Enrichment | None`` for validated (normalised) values."""

    def __init__(
        self,
        geo: Callable[[str], Geo | None] | None = None,
        as_: Callable[[str], AutonomousSystem | None] | None = None,
        user_agent: Callable[[str], UserAgent | None] | None = None,
    ) -> None:
        self._geo = geo
        self._as = as_
        self._address = functools.lru_cache(maxsize=IP_CACHE_ENTRIES)(self._look_up) if geo or as_ else None
        self._user_agent = functools.lru_cache(maxsize=UA_CACHE_ENTRIES)(user_agent) if user_agent else None
        self.failures = 0  # look-ups that raised: the event is kept, without enrichment

    def _look_up(self, ip: str) -> tuple[Geo | None, AutonomousSystem | None]:
        return (self._geo(ip) if self._geo else None), (self._as(ip) if self._as else None)

    def __call__(self, ip: str | None, user_agent: str | None) -> Enrichment | None:
        """The enrichment of a valid event; a look-up that fails costs the enrichment, never the event."""
        try:
            geo = as_ = parsed = None
            if ip is not None and self._address is not None:
                geo, as_ = self._address(ip[len(_IPV4_MAPPED):] if ip.startswith(_IPV4_MAPPED) and "." in ip else ip)
            if user_agent is not None and self._user_agent is not None:
                parsed = self._user_agent(user_agent[:MAX_PARSED_USER_AGENT_CHARS])
            return enrichment_of(geo, as_, parsed)
        except Exception as exc:
            self.failures += 1
            if self.failures % LOG_EVERY_FAILURES == 1:
                # the type only: a message could quote the address or the user agent
                log.error("enrichment failed with %s (%d so far); the events are stored without it", type(exc).__name__, self.failures)
            return None

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


def build_enricher(config: EnrichConfig | None, *, native_user_agent: bool | None = None) -> Enricher | None:
    """The enricher ``[enrich]`` asks for, or None when it enables nothing; raises ConfigError naming the key.

    ``native_user_agent``: None uses ua-parser's native accelerator when installed (benchmarks force either).
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

    return Enricher(geo, as_, parse)  # type: ignore[arg-type]
