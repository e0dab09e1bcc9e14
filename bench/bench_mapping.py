"""Benchmark one sink's per-event mapping alone: ``encode_item(map(event))`` on one thread, no network.

    python bench/bench_mapping.py --sink elasticsearch [--events 20000] [--rounds 5] [--enriched]

For ``--events`` sample events of every catalog type and reason (validated as ingest does; with
``--enriched`` each also carries the core's enrichment object: geo with a location, AS, a parsed
user agent), maps and encodes every event ``--rounds`` times and prints the best round's CPU µs per
event (this thread's CPU time, so a busy machine slows it less than wall time would) and the item's
average size. Each sink is one entry of ``SINKS``: its name -> the config of one sink of that type.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import _repo  # noqa: F401 - this checkout first on sys.path, before shippers is imported
import msgspec
from _measure import documents

from adapters.contract import Adapter
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.enrichment.model import Enrichment
from shippers.event import Event, EventValidator
from shippers.plugins import build_adapters

# One sink's config per destination; the hosts are never contacted (map and encode_item are pure).
SINKS: dict[str, dict[str, Any]] = {
    "elasticsearch": {"type": "elasticsearch", "hosts": ["http://127.0.0.1:9"], "data_stream": "logs-authlog-default"},
    "datadog": {"type": "datadog", "api_key": "bench-key", "hostname": "web-1", "env": "prod", "tags": ["team:security"]},
    "cloud_logging": {"type": "cloud_logging", "project": "bench-project", "labels": {"env": "bench"}},
}

# What [enrich] stores for a full look-up (documentation-range values), for --enriched.
ENRICHMENT = {
    "geo": {
        "continentCode": "EU", "countryIsoCode": "DE", "countryName": "Germany", "regionIsoCode": "BE",
        "regionName": "Berlin", "cityName": "Berlin", "postalCode": "10115", "timezone": "Europe/Berlin",
        "location": {"lat": 52.5244, "lon": 13.4105},
    },
    "as": {"number": 64496, "organization": "Example Networks"},
    "userAgent": {"name": "Safari", "version": "17.5", "os": {"name": "Mac OS X", "version": "14.5"}, "device": {"name": "Mac"}},
}


def sink_adapter(name: str) -> Adapter:
    """The adapter of one ``name`` sink, built as the core builds it."""
    config = config_from_dict({"sinks": {name: SINKS[name]}})
    return build_adapters(config.sinks.values(), builtin_catalog(), time.time)[name]


def sample(count: int, enriched: bool) -> list[Event]:
    """``count`` validated sample events (seed 3, as the other benchmarks), optionally enriched."""
    validator = EventValidator(builtin_catalog())
    events = [validator.decode(doc) for doc in documents(count, seed=3)]
    if enriched:
        enrichment = msgspec.convert(ENRICHMENT, Enrichment)
        events = [msgspec.structs.replace(e, enrichment=enrichment) for e in events]
    return events


def best_us_per_event(work: Callable[[], object], count: int, rounds: int) -> float:
    """The fastest of ``rounds`` runs of ``work`` in this thread's CPU µs per event."""
    best = float("inf")
    for _ in range(rounds):
        start = time.thread_time()
        work()
        best = min(best, time.thread_time() - start)
    return best * 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sink", choices=sorted(SINKS), required=True)
    # Why 20k: long enough that a round is ~50-100 ms (timer noise negligible), short enough for 5 rounds in seconds.
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--enriched", action="store_true", help="every event carries geo, AS and user agent enrichment")
    args = parser.parse_args()
    adapter = sink_adapter(args.sink)
    events = sample(args.events, args.enriched)
    map_, encode_item = adapter.map, adapter.encode_item
    items = [encode_item(map_(e)) for e in events]
    cost = best_us_per_event(lambda: [encode_item(map_(e)) for e in events], len(events), args.rounds)
    label = f"{args.sink}{' (enriched)' if args.enriched else ''}: map + encode_item"
    print(f"{label:<48} {cost:6.2f} µs/event (best of {args.rounds} x {len(events)})"
          f"   {sum(len(i) for i in items) / len(items):.0f} bytes/item")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
