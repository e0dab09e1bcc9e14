"""Benchmark one sink's per-event document work alone: ``encode_item(map(event))``, on one thread.

    python bench/bench_mapping.py --sink datadog [--events 20000] [--repeat 5] [--enriched]

For ``--events`` sample events of every catalog type (decoded and validated as the store holds
them; ``--enriched``: each carrying a full enrichment object, geo with location, AS and user agent
with OS and device, as ``[enrich]`` stores it), times what the sink's cut does per event, the
mapping and the encoding to the bytes of the request, and prints the best of ``--repeat`` runs in
µs per event of this thread's CPU (plus the bytes per event). No network, no store.

Each sink is one entry of ``BUILDERS``: its name -> a function making its adapter.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import msgspec
from _measure import documents

from adapters.contract import Adapter, SinkContext
from shippers.catalog import Catalog, builtin_catalog
from shippers.enrichment.model import Enrichment
from shippers.event import Event, EventValidator

# The shape issue 13 gives the enrichment object, every part known (the heaviest document a sink writes).
FULL_ENRICHMENT = {
    "geo": {
        "continentCode": "EU", "countryIsoCode": "DE", "countryName": "Germany", "regionIsoCode": "BE",
        "regionName": "Land Berlin", "cityName": "Berlin", "postalCode": "10115", "timezone": "Europe/Berlin",
        "location": {"lat": 52.52, "lon": 13.40},
    },
    "as": {"number": 3320, "organization": "Deutsche Telekom AG"},
    "userAgent": {"name": "Chrome", "version": "120.0.0", "os": {"name": "Mac OS X", "version": "10.15.7"}, "device": {"name": "Mac"}},
}


def datadog(catalog: Catalog) -> Adapter:
    from adapters.datadog import DatadogAdapter, DatadogConfig

    config = DatadogConfig(api_key="bench-key", hostname="web-1", env="prod", tags=["team:security"])
    return DatadogAdapter(SinkContext(name="dd", catalog=catalog, clock=time.time), config)


BUILDERS: dict[str, Callable[[Catalog], Adapter]] = {"datadog": datadog}


def events(count: int, enriched: bool) -> list[Event]:
    """``count`` validated sample events (seed 3, as the other benchmarks), with the full enrichment if asked."""
    validator = EventValidator(builtin_catalog())
    decoded = [validator.decode(document) for document in documents(count, seed=3)]
    if not enriched:
        return decoded
    enrichment = msgspec.convert(FULL_ENRICHMENT, Enrichment)
    return [msgspec.structs.replace(event, enrichment=enrichment) for event in decoded]


def best_us_per_event(sink: Adapter, batch: list[Event], repeat: int) -> tuple[float, float]:
    """The lowest thread CPU µs per event of ``repeat`` runs of map + encode over ``batch``, and bytes per event."""
    map_event, encode_item = sink.map, sink.encode_item
    best = float("inf")
    items: list[Any] = []
    for _ in range(repeat):
        start = time.thread_time()
        items = [encode_item(map_event(event)) for event in batch]
        best = min(best, time.thread_time() - start)
    return best * 1e6 / len(batch), sum(len(item) for item in items) / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sink", choices=sorted(BUILDERS), required=True)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--enriched", action="store_true", help="every event with a full enrichment object")
    args = parser.parse_args()
    sink = BUILDERS[args.sink](builtin_catalog())
    per_event, size = best_us_per_event(sink, events(args.events, args.enriched), args.repeat)
    shape = "enriched" if args.enriched else "not enriched"
    print(f"{args.sink} map + encode ({shape}): {per_event:.2f} µs/event (best of {args.repeat}), {size:.0f} bytes/event")


if __name__ == "__main__":
    main()
