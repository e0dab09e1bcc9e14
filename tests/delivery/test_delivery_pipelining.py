"""Pipelining: at concurrency 2 the sink loop cuts and sends the next batch while an earlier one waits for its answer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import msgspec
import pytest

from adapters.contract import Request, Verdict
from shippers import plugins
from shippers.samples import sample_events
from shippers.shipper import Shipper
from shippers.testing.chaos import ChaosAdapter
from shippers.testing.waiting import wait_for


class _HeldFirst(ChaosAdapter):
    """A chaos sink whose first send waits until the test releases it; later sends answer at once."""

    name = "held-first"
    release = threading.Event()
    sent: list[int] = []
    lock = threading.Lock()

    def send(self, request: Request) -> Verdict:
        with self.lock:
            first = not self.sent
            self.sent.append(request.batch_id)
        if first:
            self.release.wait(30)
        return Verdict.delivered()


@pytest.fixture
def held() -> Iterator[type[_HeldFirst]]:
    _HeldFirst.release.clear()
    _HeldFirst.sent = []
    plugins.register(_HeldFirst, "tests")
    yield _HeldFirst
    _HeldFirst.release.set()
    plugins.unregister(_HeldFirst.name)


def test_the_next_batch_is_sent_while_the_first_waits_for_its_answer(held: type[_HeldFirst], make_shipper: Callable[..., Shipper]) -> None:
    """With the first send held, the second batch is cut, sent and settled; the first settles once answered; nothing is lost."""
    shipper = make_shipper({"h": {"type": "held-first", "concurrency": 2, "batch": {"max_events": 10, "timeout": "0s"}}})
    docs = [msgspec.json.encode(e) for e in sample_events(20)]
    assert shipper.ingest_raw(docs).accepted == 20
    wait_for(lambda: len(held.sent) >= 2, "a second batch sent while the first is held")
    # the second batch, settled out of order (its send returns at once, its settle follows: wait for that too)
    wait_for(lambda: shipper.status()["sinks"]["h"]["delivered"] == 10, "the second batch settled while the first is held")
    assert shipper.buffer.sinks()[0].watermark == 0  # the watermark waits for the held, oldest batch
    held.release.set()
    assert shipper.flush(10)
    assert shipper.status()["sinks"]["h"]["delivered"] == 20

