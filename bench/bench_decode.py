"""Benchmark the event decoder alone: decode + validate + enrich valid wire events on one core.

    python bench/bench_decode.py [--events 200000] [--fields]

Prints events/s, CPU seconds per 100k events and peak RSS for EventValidator.decode over
sample events of every catalog type (ids, times, IPs, emails, user agents and details set);
``--fields``: EventValidator.from_fields over the same events as dicts (what ``emit()`` validates).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import documents, measure

from shippers.catalog import builtin_catalog
from shippers.event import EventValidator
from shippers.samples import sample_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--fields", action="store_true", help="time from_fields on dicts instead of decode on bytes")
    args = parser.parse_args()
    validator = EventValidator(builtin_catalog())
    if args.fields:
        fields = list(sample_events(args.events, seed=3))
        from_fields = validator.from_fields
        with measure("from_fields: encode + validate + enrich (one thread)", args.events):
            for event in fields:
                from_fields(event)
        return
    docs = documents(args.events, seed=3)
    decode = validator.decode
    with measure("decode + validate + enrich (one thread)", args.events):
        for document in docs:
            decode(document)


if __name__ == "__main__":
    main()
