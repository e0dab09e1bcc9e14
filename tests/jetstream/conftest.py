"""The real JetStream servers the fleet tests run against (started and stopped by each test, on loopback)."""

from shippers.testing.nats_cluster import nats_cluster, nats_server  # noqa: F401  (fixtures)
