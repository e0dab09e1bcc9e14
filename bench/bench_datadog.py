"""Benchmark: events end to end through the Shipper into a local Datadog Logs intake.

    python bench/bench_datadog.py [--events 100000] [--chunk 1000] [--sinks 1-4] [--batch N]
                                  [--stand-in] [--plot FILE.png]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the datadog sink(s) have delivered all of them (map, encode, real
``datadog-api-client`` with gzip over a loopback socket, 202). The far end is the fast counting
intake (``bench/endpoints/datadog.py``) in its own process, or with ``--stand-in`` the
``shippers.testing`` stand-in; it counts logs and distinct ``evt.id``s.

Prints events/s (ingest only, and wall clock from ingest start to last 202), CPU seconds per
100k events and peak RSS of the shipper's processes; see bench/_destination.py. ``--plot``
sweeps batch sizes (up to the intake's 1000 logs per request) and 1-4 sinks instead.
"""

from __future__ import annotations

import sys

import _destination
import _sinks


def main() -> int:
    return _destination.main(_sinks.datadog(), _destination.parser(__doc__).parse_args())


if __name__ == "__main__":
    sys.exit(main())
