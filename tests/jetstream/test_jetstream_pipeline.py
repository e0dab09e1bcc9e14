"""The core pipeline's tests (tests/test_pipeline.py) run again on a JetStream buffer: one suite, two buffers.

Each test below is the embedded store's own test function, collected here a second time with this
module's ``make_shipper`` (a shipper on a real JetStream server). Left out, because their premise is
the embedded store's: a restart of the one deliverer resending its recorded batches (on a fleet a
member's batches are its memory; the consumer hands them to another member: tests/jetstream/
test_jetstream_shipper.py) and a full buffer sized in rows of one file (the fleet's caps:
test_jetstream_shipper.py's max_backlog and drop_oldest tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shippers.shipper import Shipper
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.shipper_factory import shipper_factory
from tests.test_pipeline import (  # noqa: F401  (collected here again, on this module's make_shipper)
    test_adapters_know_their_buffer_store_id,
    test_backoff_is_capped_exponential_with_jitter,
    test_fans_out_to_every_sink_and_empties_the_buffer,
    test_one_failing_sink_never_holds_up_the_others,
    test_per_item_retry_resends_only_the_failed_items,
    test_rejected_ids_go_to_the_dlq_and_replay_through_the_normal_path,
    test_routes_filter_by_type_outcome_and_tenant,
    test_single_item_still_too_large_is_dead_lettered,
    test_throttle_honours_retry_after_without_a_hot_loop,
    test_too_large_splits_until_it_fits,
)


@pytest.fixture
def make_shipper(nats_server: NatsCluster) -> Iterator[Callable[..., Shipper]]:
    """Build (and afterwards close) shippers over a JetStream buffer on a fresh server."""
    yield from shipper_factory({"kind": "jetstream", "servers": nats_server.urls, "replicas": 1})
