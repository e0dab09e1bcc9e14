"""The real JetStream servers the fleet tests run against (started and stopped by each test, on loopback), and the
suite's `authlog run` child helper (tests/cli/live_sidecar.py)."""

import sys
from pathlib import Path

from shippers.testing.nats_cluster import nats_cluster, nats_server  # noqa: F401  (fixtures)

# Why: live_sidecar.py (the child-process helper) lives with the CLI tests; one copy for the suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
