"""authlog replay's clear errors: unknown sink, an s3 sink fed its own archive, an empty range, OCSF or Parquet prefixes."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from replay_kit import BASE, PREFIX, ArchiveWorld, iso, run_cli, wire_events


def replay(world: ArchiveWorld, config: Any, *extra: str) -> Any:
    return run_cli("replay", "-c", str(config), "--to-sink", "search", "--since", iso(BASE),
                   "--until", iso(BASE + timedelta(days=1)), *extra)


def test_an_unknown_target_sink_is_a_config_error(world: ArchiveWorld) -> None:
    """--to-sink naming no configured sink exits 2 and lists the configured ones."""
    config = world.config({"other": world.es_sink()})
    result = replay(world, config, "--from", world.url)
    assert result.exit_code == 2 and "unknown sink 'search'" in result.output and "other" in result.output


def test_an_s3_sink_cannot_be_the_target_of_its_own_archive(world: ArchiveWorld) -> None:
    """Replaying an s3 sink's bucket and prefix into that same sink is refused before anything is read."""
    config = world.config({"search": world.s3_sink()})
    result = replay(world, config, "--from-sink", "search")
    assert result.exit_code == 2 and "cannot be the target of its own archive" in result.output


def test_an_empty_range_is_a_usage_error(world: ArchiveWorld) -> None:
    """--until not after --since exits 2 saying the range is empty."""
    config = world.config({"search": world.es_sink()})
    result = run_cli("replay", "-c", str(config), "--from", world.url, "--to-sink", "search", "--since", iso(BASE), "--until", iso(BASE))
    assert result.exit_code == 2 and "the range is empty" in result.output


def test_an_ocsf_sink_or_prefix_is_not_replayable(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """--from-sink of an OCSF s3 sink is refused up front; OCSF lines found under a prefix stop the replay with the key."""
    config = world.config({"search": world.es_sink(), "lake": world.s3_sink(format="ocsf", service_name="app")})
    refused = replay(world, config, "--from-sink", "lake")
    assert refused.exit_code == 2 and "OCSF" in refused.output
    archive(wire_events(days=1, hours=(5,), per_hour=3), format="ocsf", service_name="app")
    found = replay(world, config, "--from", world.url, "--endpoint-url", world.s3.url)
    assert found.exit_code == 1 and "it holds OCSF lines" in " ".join(found.output.split())


def test_a_parquet_prefix_is_not_replayable(world: ArchiveWorld) -> None:
    """A Parquet object under the prefix is a clear error naming it."""
    key = f"{PREFIX}dt=2026-11-10/hour=05/part-0.parquet"
    world.s3.client().put_object(Bucket=world.bucket, Key=key, Body=b"PAR1")
    config = world.config({"search": world.es_sink()})
    result = replay(world, config, "--from", world.url, "--endpoint-url", world.s3.url)
    assert result.exit_code == 1 and "holds Parquet objects" in result.output


def test_a_prefix_with_nothing_in_range_says_so(world: ArchiveWorld) -> None:
    """No object in the partitions of the range is an error naming the source and the range."""
    config = world.config({"search": world.es_sink()})
    world.s3.client().put_object(Bucket=world.bucket, Key=f"{PREFIX}x", Body=gzip.compress(json.dumps({}).encode()))
    result = replay(world, config, "--from", world.url, "--endpoint-url", world.s3.url)
    assert result.exit_code == 1 and "holds no archive objects" in result.output


def test_a_rate_that_is_not_a_finite_positive_number_is_a_usage_error(world: ArchiveWorld, archive: Callable[..., Any]) -> None:
    """--rate inf, nan, 0 or -5 exits 2 naming --rate (inf and nan passed the range check and crashed with a traceback)."""
    archive(wire_events(days=1, hours=(5,), per_hour=3))
    config = world.config({"search": world.es_sink()})
    for rate in ("inf", "nan", "0", "-5"):
        result = replay(world, config, "--from", world.url, "--endpoint-url", world.s3.url, "--dry-run", "--rate", rate)
        assert result.exit_code == 2 and "--rate" in result.output, rate
