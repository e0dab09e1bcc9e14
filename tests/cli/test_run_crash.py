"""THE crash test: kill -9 the sidecar mid-stream, restart it, resend what was not acknowledged, lose nothing acknowledged."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from live_sidecar import LiveSidecar, free_port, output_ids, write_config

from shippers.client import NO_RETRY, ClientError, RetryPolicy
from shippers.samples import sample_events

TOTAL_EVENTS = 10_000
CHUNK = 500
# Why: the kill comes after this chunk's 202, with the next chunk in flight, so some events are
# acknowledged, one request is cut mid-way and the rest have not been sent: every case at once.
KILL_AFTER_CHUNK = 7


def test_every_acknowledged_event_survives_kill_9(tmp_path: Path) -> None:
    """Events acknowledged with 202 before a kill -9 all reach the file sink after a restart and resend (duplicates allowed)."""
    events = list(sample_events(TOTAL_EVENTS, seed=42))
    chunks = [events[i : i + CHUNK] for i in range(0, TOTAL_EVENTS, CHUNK)]
    port = free_port()
    config = write_config(tmp_path, port)
    acked: set[int] = set()

    sidecar = LiveSidecar(config, port).start()
    try:
        producer = sidecar.client(retry=NO_RETRY)
        for index in range(KILL_AFTER_CHUNK + 1):
            assert producer.send(chunks[index]).accepted == CHUNK
            acked.add(index)

        in_flight = KILL_AFTER_CHUNK + 1
        sending = threading.Event()

        def post_in_flight() -> None:
            client = sidecar.client(retry=NO_RETRY)
            sending.set()
            try:
                if client.send(chunks[in_flight]).accepted == CHUNK:
                    acked.add(in_flight)
            except ClientError:
                pass  # cut off by the kill: not acknowledged, so the producer resends it

        thread = threading.Thread(target=post_in_flight)
        thread.start()
        assert sending.wait(10)
        sidecar.kill()
        thread.join(30)
    finally:
        sidecar.kill()

    assert acked >= set(range(KILL_AFTER_CHUNK + 1))
    at_kill = len(output_ids(tmp_path))
    in_flight_acked = in_flight in acked
    with LiveSidecar(config, port) as restarted:
        producer = restarted.client(retry=RetryPolicy(attempts=5))
        for index, chunk in enumerate(chunks):
            if index not in acked:
                assert producer.send(chunk).accepted == CHUNK
                acked.add(index)
        restarted.wait_caught_up("local")

    written = Counter(output_ids(tmp_path))
    acknowledged_ids = {e["id"] for i in acked for e in chunks[i]}
    missing = acknowledged_ids - set(written)
    duplicates = sum(n - 1 for n in written.values())
    print(
        f"\ncrash test: killed after chunk {KILL_AFTER_CHUNK} (in-flight chunk acked: {in_flight_acked}); "
        f"{at_kill} lines at the sink at the kill; after restart and resend: {len(acknowledged_ids)} acknowledged, "
        f"{len(written)} distinct ids written, {duplicates} duplicates"
    )
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert len(acknowledged_ids) == TOTAL_EVENTS
