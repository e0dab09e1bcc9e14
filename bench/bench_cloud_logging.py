"""Benchmark: events end to end through the Shipper into a local Cloud Logging ``entries:write``.

    python bench/bench_cloud_logging.py [--events 100000] [--chunk 1000] [--sinks 1-4] [--batch N]
                                        [--stand-in] [--plot FILE.png]

What is measured: ``ingest_raw`` (validate + durable commit) of ``--events`` sample events in
chunks, then ``flush`` until the cloud_logging sink(s) have delivered all of them (map to
LogEntries, encode the ``entries.write`` body, the real ``google-cloud-logging`` client over a
loopback socket, ``200 {}``). The far end is the fast counting endpoint
(``bench/endpoints/cloud_logging.py``) in its own process, or with ``--stand-in`` the
``shippers.testing`` stand-in; it counts entries and distinct ``insertId``s.

Prints events/s (ingest only, and wall clock from ingest start to last 200), CPU seconds per
100k events and peak RSS of the shipper's processes (see bench/_destination.py), and checks that
every event arrived exactly once per sink by ``insertId``. ``--plot`` sweeps batch sizes and 1-4
sinks instead.
"""

from __future__ import annotations

import sys

import _destination
import _sinks


def main() -> int:
    return _destination.main(_sinks.cloud_logging(), _destination.parser(__doc__).parse_args())


if __name__ == "__main__":
    sys.exit(main())
