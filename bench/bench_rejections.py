"""Benchmark the rejection path: validate items the catalog does not know, as a hostile body sends them.

    python bench/bench_rejections.py [--events 50000]

Prints events/s for EventValidator.decode over (1) one misspelt type repeated (the 3 KB gzip
body of issue 10's HTTP review), (2) every item a different misspelt type, and (3) valid events,
the accept path the first two are compared with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import documents, measure

from shippers.catalog import HintBudget, builtin_catalog
from shippers.errors import ValidationError
from shippers.event import EventValidator
from shippers.sidecar.turns import VALIDATE_TURN_ITEMS


def run(label: str, validator: EventValidator, docs: list[bytes]) -> None:
    """Decode in batches of the sidecar's turn size, each with its own hint budget (as Shipper.validate_raw does)."""
    decode = validator.decode
    with measure(label, len(docs)):
        for start in range(0, len(docs), VALIDATE_TURN_ITEMS):
            hints = HintBudget()
            for document in docs[start : start + VALIDATE_TURN_ITEMS]:
                try:
                    decode(document, None, hints)
                except ValidationError:
                    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    n = args.events
    run("unknown type, one name repeated", EventValidator(builtin_catalog()), [b'{"type":"login.complete"}'] * n)
    distinct = [b'{"type":"login.complete%d"}' % i for i in range(n)]
    run("unknown type, every name different", EventValidator(builtin_catalog()), distinct)
    run("valid events (the accept path)", EventValidator(builtin_catalog()), documents(n, seed=3))


if __name__ == "__main__":
    main()
