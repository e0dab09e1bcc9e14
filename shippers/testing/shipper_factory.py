"""Build shippers for a test and close them all afterwards: the body of every ``make_shipper`` fixture.

The fixtures differ only in their buffer (the embedded store in tests/conftest.py, a JetStream server
in tests/jetstream/test_jetstream_pipeline.py), so the shared pipeline tests run on either one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from shippers.shipper import Shipper

# Why: long enough for a shipper to drain a test's few batches, short enough that a hung one fails the test.
CLOSE_TIMEOUT_SECONDS = 5


def shipper_factory(buffer_base: dict[str, Any]) -> Iterator[Callable[..., Shipper]]:
    """Yield ``build(sinks, buffer=..., start=..., **kwargs)`` over ``buffer_base``; close every shipper it built."""
    made: list[Shipper] = []

    def build(
        sinks: dict[str, Any], *, buffer: dict[str, Any] | None = None, start: bool = True, **kwargs: Any
    ) -> Shipper:
        config = {"buffer": {**buffer_base, **(buffer or {})}, "sinks": sinks}
        shipper = Shipper.from_config(config, **kwargs)
        made.append(shipper)
        return shipper.start() if start else shipper

    yield build
    for shipper in made:
        shipper.close(timeout=CLOSE_TIMEOUT_SECONDS)
