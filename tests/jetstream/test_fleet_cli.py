"""The CLI on a fleet: `authlog status` lists the members and the fleet's figures, `authlog dlq` reads the DLQ stream,
`authlog fleet remove-sink` deletes a sink's consumer (and refuses on the embedded store)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from shippers.cli.main import cli
from shippers.config import load_config
from shippers.shipper import Shipper
from shippers.testing.buffer_contract import stored_events
from shippers.testing.nats_cluster import NatsCluster
from shippers.testing.source_contract import dead, scan_all
from shippers.testing.waiting import wait_for


def write_config(folder: Path, cluster: NatsCluster) -> Path:
    servers = ", ".join(f'"{url}"' for url in cluster.urls)
    path = folder / "authlog.toml"
    # a port nobody listens on: the commands fall back to the store, as without a sidecar
    path.write_text(f'[server]\nlisten = "127.0.0.1:1"\n\n[buffer]\nkind = "jetstream"\nservers = [{servers}]\nreplicas = 1\n\n'
                    '[sinks.mem]\ntype = "memory"\n')
    return path


def test_status_lists_the_members_and_the_fleet_figures(tmp_path: Path, nats_server: NatsCluster) -> None:
    """With a member delivering, `authlog status` (from the store) shows a fleet table with that member and the sink's figures."""
    config = write_config(tmp_path, nats_server)
    with Shipper.from_config(load_config(config), deliver=True) as member:
        wait_for(lambda: len(member.buffer.fleet_status()["members"]) == 1, "the member's heartbeat")  # type: ignore[index]
        result = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "fleet on stream AUTHLOG" in result.output and member.buffer.store_id in result.output
    assert "sink mem on the fleet: 0 pending" in result.output


def test_every_stream_of_the_fleet_has_a_byte_limit_that_status_shows(tmp_path: Path, nats_server: NatsCluster) -> None:
    """The events and DLQ streams and both key-value buckets are capped in bytes, and status (its document and
    `authlog status`) shows what each holds against its limit."""
    config = write_config(tmp_path, nats_server)
    with Shipper.from_config(load_config(config), deliver=True) as member:
        wait_for(lambda: len(member.buffer.fleet_status()["members"]) == 1, "the member's heartbeat")  # type: ignore[index]
        limits = member.buffer.fleet_status()["limits"]  # type: ignore[index]
        result = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert {"events", "deadLetters", "cuts", "members"} <= set(limits)
    assert all(figures["maxBytes"] > 0 for figures in limits.values()), limits
    assert limits["events"]["maxBytes"] == 10 * 1024**3  # [buffer] max_bytes' default on a fleet
    assert "fleet storage: events" in result.output and "members bucket" in result.output and "no limit" not in result.output


def test_dlq_list_and_purge_read_the_dlq_stream(tmp_path: Path, nats_server: NatsCluster) -> None:
    """A letter a member put in the DLQ stream is listed by `authlog dlq list` and removed by `authlog dlq purge -y`."""
    config = write_config(tmp_path, nats_server)
    with Shipper.from_config(load_config(config), deliver=False) as shipper:
        shipper.buffer.register_sinks(shipper._policies())
        shipper.buffer.append(stored_events(1))
        source = shipper.buffer.delivery_source("mem")
        [row] = scan_all(source, "mem", 1)
        source.record_cut("mem", [], [dead(row, "mapping failed")], row.seq)
    listed = CliRunner().invoke(cli, ["dlq", "list", "-c", str(config), "--json"])
    assert listed.exit_code == 0 and "mapping failed" in listed.output and '"e0"' in listed.output, listed.output
    purged = CliRunner().invoke(cli, ["dlq", "purge", "-c", str(config), "-y"])
    assert purged.exit_code == 0, purged.output
    with Shipper.from_config(load_config(config), deliver=False) as shipper:
        assert shipper.buffer.dead_letter_count() == 0


def test_fleet_remove_sink_deletes_the_consumer(tmp_path: Path, nats_server: NatsCluster) -> None:
    """`authlog fleet remove-sink mem -y` deletes the sink's consumer and says how many events it had not settled."""
    config = write_config(tmp_path, nats_server)
    with Shipper.from_config(load_config(config), deliver=False) as shipper:
        shipper.buffer.register_sinks(shipper._policies())
        shipper.buffer.append(stored_events(2))
    result = CliRunner().invoke(cli, ["fleet", "remove-sink", "mem", "-c", str(config), "-y"])
    assert result.exit_code == 0 and "2 event(s)" in result.output, result.output
    again = CliRunner().invoke(cli, ["fleet", "remove-sink", "mem", "-c", str(config), "-y"])
    assert again.exit_code == 2 and "no consumer for sink 'mem'" in again.output, again.output


def test_fleet_remove_sink_refuses_on_the_embedded_store(tmp_path: Path) -> None:
    """On kind = "sqlite" the command refuses and names `authlog sinks forget`."""
    config = tmp_path / "authlog.toml"
    config.write_text('[sinks.mem]\ntype = "memory"\n')
    result = CliRunner().invoke(cli, ["fleet", "remove-sink", "mem", "-c", str(config), "-y"])
    assert result.exit_code == 2 and "sinks forget" in result.output, result.output


def test_a_status_polled_often_makes_no_consumers(tmp_path: Path, nats_server: NatsCluster) -> None:
    """Listing members and recorded cuts reads the buckets' subjects: a hundred statuses leave no consumer behind on them
    (KeyValue.keys() made one per call, and a polled status ran the server out of consumers)."""
    import asyncio

    import nats

    config = write_config(tmp_path, nats_server)
    with Shipper.from_config(load_config(config), deliver=True) as member:
        for _ in range(100):
            member.status()
            member.buffer.delivery_source("mem").cuts.load()

    async def consumers() -> int:
        client = await nats.connect(servers=nats_server.urls)
        try:
            js = client.jetstream()
            infos = [await js.stream_info(name) for name in ("KV_AUTHLOG_members", "KV_AUTHLOG_cuts")]
            return sum(info.state.consumer_count for info in infos)
        finally:
            await client.close()

    assert asyncio.run(consumers()) == 0
