"""Benchmark enrichment at ingest: the cost per event of [enrich], with and without the native UA parser.

    python bench/bench_enrich.py [--events 100000]

Each row validates the same sample events (bench/_measure.documents: every type and reason,
IPv4 and IPv6) with a different enricher and prints microseconds per event; the cost of
enrichment is a row minus the "no enrichment" row. Databases: the demo's (shippers/data), a
few networks; GeoLite2's trees are deeper (~30 levels for IPv4), which adds well under a
microsecond per uncached look-up. Two traffic shapes:

- ``warm``: the samples' four user agents and 300 addresses repeat, timed after one pass
  over them (a day of real logins: the LRU caches answer every event);
- ``cold``: every event has its own user agent string and address, each row on a fresh
  enricher (a worst case: every look-up and every parse misses the caches);
- ``hostile``: as cold, with every user agent 2,048 characters (the event's limit) of the uap-core
  rules' slowest inputs found by search (``;`` repeated, ``Kindle/aaa...spider``, ``bot bot ...``):
  what whoever attacks the login page can send. At most ``HOSTILE_EVENTS`` events (pure Python
  takes milliseconds each).

Each row is timed ``--repeat`` times (CPU time of this process) and the fastest is printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from _measure import documents

from shippers import data
from shippers.catalog import builtin_catalog
from shippers.config import EnrichConfig, FilePath
from shippers.enrichment.enricher import build_enricher
from shippers.enrichment.user_agent import native_available
from shippers.event import MAX_USER_AGENT_CHARS, EventValidator

# Why: real browser strings of the families uap-core matches with its longest rule lists.
_TEMPLATES = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{a}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{b}.0.{c}.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{b}.0) Gecko/20100101 Firefox/{b}.{a}",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{a} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{a} Mobile/15E148 Safari/604.{c}",
    "Mozilla/5.0 (Linux; Android 14; SM-S9{a}1B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{b}.0.{c}.0 Mobile Safari/537.36",
)


# Why: a few hundred active clients is what a service's login traffic repeats within the caches' reach.
WARM_ADDRESSES = 300


def warm_traffic(docs: list[bytes]) -> list[bytes]:
    """The documents with their addresses drawn from WARM_ADDRESSES (one in five IPv6), user agents as sampled."""
    out = []
    for n, doc in enumerate(docs):
        event = msgspec.json.decode(doc)
        slot = n % WARM_ADDRESSES
        event["ip"] = f"2001:db8::{slot:x}" if slot % 5 == 0 else f"203.0.113.{slot % 254 + 1}"
        out.append(msgspec.json.encode(event))
    return out


def cold_traffic(docs: list[bytes], seed: int = 7) -> list[bytes]:
    """The documents with a distinct user agent and address each (no cache hit anywhere)."""
    rng = random.Random(seed)
    out = []
    for n, doc in enumerate(docs):
        event = msgspec.json.decode(doc)
        event["userAgent"] = _TEMPLATES[n % len(_TEMPLATES)].format(a=n % 10, b=100 + n % 40, c=n)
        event["ip"] = f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1" if n % 5 == 0 else f"203.0.{(n >> 8) % 256}.{n % 256}"
        if rng.random() < 0.5:
            event["ip"] = f"203.0.113.{n % 254 + 1}"
        out.append(msgspec.json.encode(event))
    return out


# Why: the slowest 2,048-char shapes of a search over prefixes x repeated units x suffixes (~3.6 ms native,
# ~21 ms pure Python each before the parser's 512-character cut).
_HOSTILE = (("", ";", ""), ("Kindle/", "a", "spider"), ("", "bot ", ""), ("Mozilla/5.0 (compatible; ", "x", "spider"))
# Why: a pure-Python parse of one takes ~5 ms even cut: 2,000 keep the row under ~15 s.
HOSTILE_EVENTS = 2_000


def hostile_traffic(docs: list[bytes]) -> list[bytes]:
    """The first HOSTILE_EVENTS documents with a distinct worst-case user agent each (distinct heads: no cache hit)."""
    out = []
    for n, doc in enumerate(docs[:HOSTILE_EVENTS]):
        event = msgspec.json.decode(doc)
        head, unit, tail = _HOSTILE[n % len(_HOSTILE)]
        mark = f"{n:x}"
        body = (unit * MAX_USER_AGENT_CHARS)[: MAX_USER_AGENT_CHARS - len(head) - len(mark) - len(tail)]
        event["userAgent"] = head + body[:100] + mark + body[100:] + tail  # the mark inside the parsed head
        out.append(msgspec.json.encode(event))
    return out


def _timed(validator: EventValidator, docs: list[bytes]) -> float:
    decode = validator.decode
    started = time.process_time()
    for document in docs:
        decode(document)
    return (time.process_time() - started) / len(docs) * 1e6


def run(label: str, make: Callable[[], EventValidator], docs: list[bytes], baseline: float | None, *, warm: bool, repeat: int) -> float:
    """The fastest of ``repeat`` timings (µs/event); ``warm``: one untimed pass first, on the same validator."""
    timings = []
    for _ in range(repeat):
        validator = make()
        if warm:
            _timed(validator, docs)
        timings.append(_timed(validator, docs))
    per_event = min(timings)
    extra = "" if baseline is None else f"   enrichment {per_event - baseline:6.2f} µs/event"
    print(f"{label:<52} {per_event:6.2f} µs/event{extra}", flush=True)
    return per_event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = builtin_catalog()
    geo = {"geoip_db": FilePath(str(data.FOLDER / data.DEMO_CITY_FILE)), "asn_db": FilePath(str(data.FOLDER / data.DEMO_ASN_FILE))}
    samples = documents(args.events, seed=3)
    warm_docs, cold_docs = warm_traffic(samples), cold_traffic(samples)
    hostile_docs = hostile_traffic(cold_docs)
    print(f"{args.events} events per row ({len(hostile_docs)} hostile); ua-parser-rs (native) installed: {native_available()}")
    for shape, docs in (("warm", warm_docs), ("cold", cold_docs), ("hostile", hostile_docs)):
        warm = shape == "warm"
        base = run(f"{shape}: no enrichment", lambda: EventValidator(catalog), docs, None, warm=warm, repeat=args.repeat)

        def validator(config: EnrichConfig, native: bool | None = None) -> Callable[[], EventValidator]:
            return lambda: EventValidator(catalog, enricher=build_enricher(config, native_user_agent=native))

        run(f"{shape}: geo + AS", validator(EnrichConfig(**geo)), docs, base, warm=warm, repeat=args.repeat)
        for native in ([True, False] if native_available() else [False]):
            name = "native" if native else "pure Python"
            # Why one try for cold pure Python: ~0.5 ms per parse; three tries of 100k would take minutes.
            tries = 1 if not native and shape == "cold" else args.repeat
            run(f"{shape}: geo + AS + user agent ({name})", validator(EnrichConfig(**geo, user_agent=True), native),
                docs, base, warm=warm, repeat=tries)


if __name__ == "__main__":
    main()
