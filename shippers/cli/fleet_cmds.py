"""``authlog fleet``: what only a fleet on JetStream needs (``[buffer] kind = "jetstream"``).

``remove-sink NAME`` deletes the sink's durable consumer, for every member at once: the one way a
fleet stops delivering a sink (a member whose config lacks the sink only warns, since another
member may still have it). What the consumer had not settled is counted and said.
"""

from __future__ import annotations

from pathlib import Path

import click

from shippers.cli.common import EXIT_CONFIG, EXIT_RUNTIME, config_option, console, fail, read_config, store_where
from shippers.errors import AuthlogError


@click.group()
def fleet() -> None:
    """Manage a fleet on NATS JetStream ([buffer] kind = "jetstream")."""


@fleet.command("remove-sink")
@config_option
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_sink(config_path: Path, name: str, yes: bool) -> None:
    """Delete sink NAME's consumer: no member delivers it any more; the events it had not settled stay in the stream for the others."""
    config = read_config(config_path)
    if config.buffer.kind != "jetstream":
        fail(f'fleet remove-sink needs [buffer] kind = "jetstream" (this config\'s store is {config.buffer.kind}); '
             "for the embedded store use `authlog sinks forget`", EXIT_CONFIG)
    if not yes and not click.confirm(f"stop delivering sink '{name}' on the whole fleet (its consumer is deleted)?", err=True):
        fail("nothing removed", EXIT_RUNTIME)
    from shippers.shipper import Shipper

    try:
        shipper = Shipper.from_config(config, deliver=False)
    except AuthlogError as exc:
        fail(f"cannot open the store {store_where(config)}: {exc}")
    try:
        left = shipper.buffer.forget_sink(name)
    except KeyError:
        stored = ", ".join(row.name for row in shipper.buffer.sinks()) or "none"
        fail(f"the stream {config.buffer.stream} has no consumer for sink '{name}' (its sinks: {stored})", EXIT_CONFIG)
    except AuthlogError as exc:
        fail(f"fleet remove-sink failed: {exc}")
    finally:
        shipper.close(0.0)
    console.print(f"removed sink '{name}' from the fleet: {left} event(s) it had not settled are no longer delivered to it "
                  "(remove it from every member's config too: a member that still has it fails to fetch until it is restarted, and its next start creates the sink again, from the tail)",
                  highlight=False, markup=False, soft_wrap=True)
