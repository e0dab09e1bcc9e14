"""A delivery process's metrics reach the parent's registry as the same series."""

from __future__ import annotations

from shippers.delivery_process.forwarded import ForwardedMetrics, apply
from shippers.metrics import Metrics


def test_counters_add_up_gauges_keep_the_last_value_and_nothing_is_sent_twice() -> None:
    """What a child counts between two reports is applied once: counters summed, the up gauge at its last value."""
    child, parent = ForwardedMetrics(), Metrics()
    child.delivered.labels("a").inc(3)  # type: ignore[attr-defined]
    child.delivered.labels("a").inc(4)  # type: ignore[attr-defined]
    child.dead_lettered.labels("a", "rejected").inc()  # type: ignore[attr-defined]
    child.up.labels("a").set(0)  # type: ignore[attr-defined]
    child.up.labels("a").set(1)  # type: ignore[attr-defined]
    child.dropped.labels("a")  # type: ignore[attr-defined]
    apply(parent, child.take())
    apply(parent, child.take())  # nothing new
    text = parent.render().decode()
    assert 'authlog_sink_delivered_total{sink="a"} 7.0' in text
    assert 'authlog_sink_dead_lettered_total{reason="rejected",sink="a"} 1.0' in text
    assert 'authlog_sink_up{sink="a"} 1.0' in text
    assert 'authlog_sink_dropped_total{sink="a"} 0.0' in text  # exported from the start, as a thread's sink does
