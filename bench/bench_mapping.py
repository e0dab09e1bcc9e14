"""Benchmark one sink's mapping alone: ``encode_item(map(event))`` in CPU µs per event, one thread, no network.

    python bench/bench_mapping.py --sink cloud_logging [--events 20000] [--repeat 5] [--enrichment]

The events are validated sample events (every catalog type and reason, ``shippers.samples``), as the
store hands them to a sink; ``--enrichment`` gives each one the core's full ``enrichment`` object
(geo, AS, user agent). Each round maps and encodes every event into a list (the core keeps a batch's
documents until it settles, so their allocations count); the best of ``--repeat`` rounds is printed,
with the bytes per document. ``SINKS`` holds one builder per sink: an adapter as a default config makes it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import _repo  # noqa: F401 - this checkout first on sys.path
import msgspec
from _measure import documents

from adapters.contract import Adapter, SinkContext
from shippers.catalog import builtin_catalog
from shippers.config import config_from_dict
from shippers.enrichment.model import Enrichment
from shippers.event import Event, EventValidator

# The core's `enrichment` object with every part known (the shape [enrich] stores for a located, parsed request).
FULL_ENRICHMENT = {
    "geo": {"continentCode": "EU", "countryIsoCode": "DE", "countryName": "Germany", "regionIsoCode": "BE",
            "regionName": "Land Berlin", "cityName": "Berlin", "postalCode": "10115", "timezone": "Europe/Berlin",
            "location": {"lat": 52.5244, "lon": 13.4105}},
    "as": {"number": 64500, "organization": "Example Transit"},
    "userAgent": {"name": "Chrome", "version": "126.0", "os": {"name": "Mac OS X", "version": "14.5"}, "device": {"name": "Mac"}},
}  # fmt: skip


def adapter_of(adapter: type[Adapter], **keys: Any) -> Adapter:
    """``adapter`` for a sink with these config keys (the config loader's defaults for the rest)."""
    config = config_from_dict({"sinks": {"s": {"type": adapter.name, **keys}}}).sinks["s"].adapter
    return adapter(SinkContext(name="s", catalog=builtin_catalog(), clock=time.time), config)


def cloud_logging() -> Adapter:
    from adapters.cloud_logging import CloudLoggingAdapter

    return adapter_of(CloudLoggingAdapter, project="bench-project", labels={"env": "bench"})


SINKS: dict[str, Callable[[], Adapter]] = {
    "cloud_logging": cloud_logging,
}


def sample(count: int, enrichment: bool) -> list[Event]:
    """``count`` validated sample events, each with the full enrichment object when asked."""
    validator = EventValidator(builtin_catalog())
    events = [validator.decode(doc) for doc in documents(count, seed=3)]
    if not enrichment:
        return events
    value = msgspec.convert(FULL_ENRICHMENT, Enrichment)
    return [msgspec.structs.replace(e, enrichment=value) for e in events]


def best_us_per_event(sink: Adapter, events: list[Event], repeat: int) -> tuple[float, float]:
    """(the best round's CPU µs per event, bytes per document) of mapping and encoding every event."""
    best = float("inf")
    items: list[Any] = []
    for _ in range(repeat):
        start = time.process_time()
        items = [sink.encode_item(sink.map(e)) for e in events]
        best = min(best, time.process_time() - start)
    return best * 1e6 / len(events), sum(len(i) for i in items) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sink", choices=sorted(SINKS), required=True)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--enrichment", action="store_true", help="every event carries the full enrichment object")
    args = parser.parse_args()
    sink = SINKS[args.sink]()
    us, size = best_us_per_event(sink, sample(args.events, args.enrichment), args.repeat)
    print(f"{args.sink:<16} map + encode {us:6.2f} µs/event (best of {args.repeat}, {args.events} events"
          f"{', enriched' if args.enrichment else ''})   {size:.0f} bytes/document")


if __name__ == "__main__":
    main()
