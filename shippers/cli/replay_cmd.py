"""``authlog replay``: queue archived events again for one sink (shippers.replay does the work).

Where from: ``--from s3://BUCKET/PREFIX`` (``--endpoint-url`` for a compatible store), ``--from
file://PATH`` (a file sink's output with its rotated files), or ``--from-sink NAME`` (bucket, prefix,
region and endpoint of a configured ``s3`` sink). Where to: ``--to-sink NAME``, through its mapping,
batching, retry and DLQ. A sidecar delivering from the store picks the events up; with none running,
replay delivers that sink itself until it has drained. Exit codes: 0 done (bad lines and unreadable
objects are listed and skipped), 2 usage or config error, 1 the source or the store failed, 130
interrupted (Ctrl-C: what was queued stays queued, with its checkpoints).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape

from shippers.cli.common import EXIT_CONFIG, config_option, console, errors, fail, read_config, report_config_error
from shippers.cli.replay_view import ReplayProgress, summary_lines
from shippers.config import Config, SinkConfig
from shippers.errors import AuthlogError, ConfigError, ReplayConflictError
from shippers.replay.lines import LineReader
from shippers.replay.run import Replayer, ReplayRequest
from shippers.replay.sources import FileSource, S3Source, Source, SourceError, parse_source
from shippers.shipper import Shipper

# Why: while replay delivers the sink itself, it looks this often whether the sink has drained.
DRAIN_POLL_SECONDS = 0.2
# Why: at shutdown a send still in flight gets this long to finish; what is not sent stays in the store.
CLOSE_TIMEOUT_SECONDS = 10.0
# Why: the shell's code for a command ended by SIGINT (128 + 2), so scripts tell Ctrl-C from a failure.
EXIT_INTERRUPTED = 130


def _when(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 time; write e.g. 2026-11-01T00:00:00Z", param_hint=option) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset; add Z or +HH:MM", param_hint=option)
    return moment.astimezone(UTC)


class _EventsPerSecond(click.FloatRange):
    """A rate above 0 that is a number: click's range lets ``inf`` and ``nan`` through (and chunks cannot be sized by them)."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        rate = super().convert(value, param, ctx)
        if not math.isfinite(rate):
            self.fail(f"{value!r} is not a number of events per second (give e.g. 500)", param, ctx)
        return rate


def _listed(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated options and comma-separated lists alike: ``--types 'login.*' --types signup.completed,user.locked``."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _source(config: Config, source_url: str | None, from_sink: str | None, endpoint_url: str | None) -> Source:
    if (source_url is None) == (from_sink is None):
        raise click.UsageError("give either --from s3://BUCKET/PREFIX | file://PATH or --from-sink NAME")
    if source_url is not None:
        try:
            return parse_source(source_url, endpoint_url)
        except SourceError as exc:
            raise click.UsageError(str(exc)) from None
    assert from_sink is not None
    sink = config.sinks.get(from_sink)
    if sink is None:
        fail(f"--from-sink: unknown sink {escape(from_sink)!r}; configured sinks: {', '.join(sorted(config.sinks))}", EXIT_CONFIG)
    if sink.common.type == "file":
        return FileSource(Path(sink.adapter.path))
    if sink.common.type != "s3":
        fail(f"--from-sink {escape(from_sink)}: a {sink.common.type} sink keeps no archive to replay (give an s3 or file sink)", EXIT_CONFIG)
    if sink.adapter.format != "ndjson":
        fail(f"--from-sink {escape(from_sink)}: it writes format = {sink.adapter.format!r} (OCSF), not archive lines; only "
             "NDJSON archives (format = \"ndjson\") and file-sink output can be replayed", EXIT_CONFIG)
    return S3Source(sink.adapter.bucket, sink.adapter.prefix, region=sink.adapter.region,
                    endpoint_url=endpoint_url or sink.adapter.endpoint_url, force_path_style=sink.adapter.force_path_style)


def _refuse_own_archive(source: Source, target: SinkConfig) -> None:
    """A sink that writes where the replay reads would read its own output again (and again)."""
    kind, adapter = target.common.type, target.adapter
    if isinstance(source, S3Source) and kind == "s3" and adapter.bucket == source.bucket:
        mine = adapter.prefix or ""
        if source.prefix.startswith(mine) or mine.startswith(source.prefix):
            fail(f"sink {target.name} writes to {source.url}: an s3 sink cannot be the target of its own archive "
                 "(replay into another sink, or another bucket or prefix)", EXIT_CONFIG)
    if isinstance(source, FileSource) and kind == "file" and Path(adapter.path).resolve() == source.path.resolve():
        fail(f"sink {target.name} appends to {source.path}: a file sink cannot be the target of its own output", EXIT_CONFIG)


@click.command()
@config_option
@click.option("--from", "source_url", metavar="URL", help="s3://BUCKET/PREFIX (an s3 sink's archive) or file://PATH (a file sink's output).")
@click.option("--from-sink", metavar="NAME", help="Read the archive of this configured s3 (or file) sink: its bucket, prefix, region, endpoint.")
@click.option("--to-sink", required=True, metavar="NAME", help="The one sink to queue the events for.")
@click.option("--since", required=True, metavar="TIME", help="First event time replayed (RFC 3339, e.g. 2026-11-01T00:00:00Z).")
@click.option("--until", metavar="TIME", help="End of the range, not included [default: now].")
@click.option("--types", multiple=True, metavar="GLOB", help="Only these event types (globs; repeat or separate with commas).")
@click.option("--tenants", multiple=True, metavar="ID", help="Only these tenant ids (repeat or separate with commas).")
@click.option("--endpoint-url", metavar="URL", help="An S3-compatible endpoint (MinIO, R2, a local test server).")
@click.option("--rate", type=_EventsPerSecond(), metavar="N", help="At most N events queued per second.")
@click.option("--dry-run", is_flag=True, help="Read and check everything, queue nothing: show what would be queued and skipped.")
def replay(config_path: Path, source_url: str | None, from_sink: str | None, to_sink: str, since: str, until: str | None,
           types: tuple[str, ...], tenants: tuple[str, ...], endpoint_url: str | None, rate: float | None, dry_run: bool) -> None:
    """Replay archived events of [--since, --until) into one sink; a second run with the same arguments continues."""
    config = read_config(config_path)
    start, end = _when(since, "--since"), _when(until, "--until") if until else datetime.now(UTC)
    if end <= start:
        raise click.UsageError(f"the range is empty: --until {end.isoformat()} is not after --since {start.isoformat()}")
    target = config.sinks.get(to_sink)
    if target is None:
        fail(f"--to-sink: unknown sink {escape(to_sink)!r}; configured sinks: {', '.join(sorted(config.sinks))}", EXIT_CONFIG)
    source = _source(config, source_url, from_sink, endpoint_url)
    _refuse_own_archive(source, target)
    request = ReplayRequest(source, to_sink, start, end, _listed(types), _listed(tenants), rate, dry_run, until_now=until is None)
    _run(config, request, target)


def _run(config: Config, request: ReplayRequest, target: SinkConfig) -> None:
    try:
        shipper = Shipper(config)
    except ConfigError as exc:
        report_config_error(exc, config.source)
    except AuthlogError as exc:
        fail(escape(f"cannot open the store {config.buffer.path}: {exc}"))
    began = time.monotonic()
    replayer: Replayer | None = None
    try:
        own = False
        if not request.dry_run:
            shipper.require_tag_reader("replay")
            own = shipper.deliver_only([target.name])
            if not own and target.name not in {row.name for row in shipper.buffer.sinks()}:
                holder = shipper.buffer.delivery_holder()
                fail(escape(f"the process delivering from {config.buffer.path} (pid {holder[0] if holder else '?'}) has no sink "
                            f"{target.name}: add it to that process's config (and restart it), then replay"), EXIT_CONFIG)
        replayer = Replayer(request, buffer=shipper.buffer, target=target,
                            reader=LineReader(shipper.validator, shipper.validator.enricher, shipper.clock),
                            clock=shipper.clock, monotonic=time.monotonic, sleep=time.sleep,
                            store_max_bytes=int(config.buffer.max_bytes))
        objects = replayer.objects()
        if not objects:
            fail(escape(f"{request.source.url} holds no archive objects for [{request.since.isoformat()}, {request.until.isoformat()})"))
        with ReplayProgress(errors, "replay") as progress:
            replayer.progress = progress
            summary = replayer.run(objects)
        seconds = time.monotonic() - began
        if own:
            _drain(shipper, target.name)
        elif not request.dry_run:
            errors.print(f"the running sidecar delivers them to {target.name} (`authlog status` shows its lag)", highlight=False, markup=False)
    except KeyboardInterrupt:
        queued = replayer.summary.queued if replayer is not None else 0
        fail(f"interrupted after queueing {queued:,} event(s) (each chunk with its checkpoint); a second run with the same "
             "arguments continues where this one stopped", EXIT_INTERRUPTED)
    except (SourceError, ReplayConflictError) as exc:
        fail(escape(str(exc)))
    except AuthlogError as exc:
        fail(escape(f"replay stopped: {exc}; a second run with the same arguments continues where this one stopped"))
    finally:
        shipper.close(CLOSE_TIMEOUT_SECONDS)
    for line in summary_lines(summary, sink=target.name, sink_type=target.common.type, dry_run=request.dry_run, seconds=seconds):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _drain(shipper: Shipper, sink: str) -> None:
    """No sidecar runs: deliver the sink here until it is done with everything queued (Ctrl-C leaves the rest stored)."""
    pause = threading.Event()
    with errors.status(f"delivering to {sink} (no sidecar runs)..."):
        while not shipper.drained(sink):
            pause.wait(DRAIN_POLL_SECONDS)
    errors.print(f"sink {sink} has drained", highlight=False, markup=False)


__all__ = ["replay"]
