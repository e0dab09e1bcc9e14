"""``authlog run``, ``send``, ``status`` and ``dlq list|replay|purge``: the commands around the sidecar.

``run`` is the sidecar itself. ``send`` posts events to a running one. ``status`` and
``dlq list`` ask the running sidecar (``/v1/status``, ``/v1/dlq``) and read the store
directly when none answers; ``dlq replay`` and ``purge`` always work on the store (any
number of processes may write to it; the sidecar's workers pick re-queued events up).

Where the sidecar is: ``--url`` (or ``AUTHLOG_URL``), else ``[server] listen`` of the config,
else ``http://127.0.0.1:8787``. The token: ``--token`` (or ``AUTHLOG_TOKEN``), else the first
one the config accepts. Exit codes (DESIGN.md): 0 ok, 2 usage or config error, 1 runtime failure.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

import click
import msgspec
from click.core import ParameterSource
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from shippers import units
from shippers.child_process import LOG_FORMAT  # the children log in the same shape
from shippers.cli.common import (
    EXIT_CONFIG,
    EXIT_RUNTIME,
    config_option,
    console,
    errors,
    fail,
    read_config,
    report_config_error,
    store_where,
)
from shippers.cli.sink_table import Column, count, error_lines, sink_table, state_cell
from shippers.cli.where import DEFAULT_URL
from shippers.client import (
    DEFAULT_ATTEMPTS,
    NO_RETRY,
    Client,
    ClientError,
    RequestRejected,
    RetryPolicy,
    SendResult,
    SidecarUnavailable,
)
from shippers.config import Config, resolve_tokens
from shippers.errors import AuthlogError, BufferLockedError, ConfigError
from shippers.listen import local_url
from shippers.samples import sample_events
from shippers.sidecar.app import dead_letter_json, plain_json
from shippers.sidecar.server import DEFAULT_GRACE_SECONDS, serve

# Why: 1000 events (~400 KB of NDJSON) per request amortise HTTP overhead while each commit
# stays well under the default 10 MiB / 50k-event request caps.
DEFAULT_CHUNK = 1000
# Why: a terminal full of rejections hides the summary; the first few show the pattern.
MAX_SHOWN_REJECTIONS = 20
# Why: `status` asks a local sidecar; if it takes longer than this it is not healthy anyway.
PROBE_TIMEOUT_SECONDS = 5.0
# Why: rejections and DLQ reasons are shown, not archived: long ones are cut for the table.
MAX_CELL_CHARS = 120
# status's columns, most important first; a higher drop priority leaves first when 80 columns are too few.
STATUS_COLUMNS = (
    Column("sink", lambda name, _sink: name),
    Column("type", lambda _name, sink: str(sink.get("type", "?")), drop_priority=4),
    Column("state", state_cell),
    Column("lag", lambda _name, sink: count(sink.get("lagEvents", 0)), numeric=True),
    Column("delivered", lambda _name, sink: count(sink.get("delivered", 0)), numeric=True),
    Column("dups", lambda _name, sink: count(sink.get("duplicates", 0)), numeric=True, drop_priority=3),
    Column("retries", lambda _name, sink: count(sink.get("retries", 0)), numeric=True),
    Column("DLQ", lambda _name, sink: count(sink.get("dlqEvents", sink.get("deadLettered", 0))), numeric=True),
    Column("dropped", lambda _name, sink: count(sink.get("dropped", 0)), numeric=True, drop_priority=2),
)
# Shown only when a sink is in a delivery process (its status has deliveryRestarts): threads have no such restart.
RESTARTS_COLUMN = Column("restarts", lambda _name, sink: count(sink.get("deliveryRestarts")), numeric=True, drop_priority=3)

url_option = click.option("--url", envvar="AUTHLOG_URL", help="The sidecar's URL [env AUTHLOG_URL; default: from [server] listen].")
token_option = click.option("--token", envvar="AUTHLOG_TOKEN", help="Bearer token [env AUTHLOG_TOKEN; default: from the config].")


# -- shared helpers ----------------------------------------------------------------------------


def optional_config(path: Path) -> Config | None:
    """The config when -c was given or ./authlog.toml exists; None when neither (commands fall back to defaults)."""
    source = click.get_current_context().get_parameter_source("config_path")
    if source == ParameterSource.DEFAULT and not path.exists():
        return None
    return read_config(path)


def sidecar_url(config: Config | None, url: str | None) -> str:
    if url:
        return url
    if config is None:
        return DEFAULT_URL
    return local_url(config.server.listen, tls=bool(config.server.tls_cert))


def sidecar_token(config: Config | None, token: str | None) -> str | None:
    if token:
        return token
    if config is None:
        return None
    try:
        tokens = resolve_tokens(config.server)
    except ConfigError as exc:
        report_config_error(exc, config.source)
    return tokens[0] if tokens else None


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), TimeRemainingColumn(),
        console=errors, transient=False,
    )


def open_store(config: Config | None) -> Any:
    """A Shipper on the store that does not deliver (reads, replay, purge)."""
    if config is None:
        fail("no sidecar answered and there is no config to find the store: pass -c authlog.toml", EXIT_CONFIG)
    from shippers.shipper import Shipper

    try:
        return Shipper.from_config(config, deliver=False)
    except ConfigError as exc:
        report_config_error(exc, config.source)
    except AuthlogError as exc:
        fail(f"cannot open the store {store_where(config)}: {exc}")


def _cut(text: str | None) -> str:
    if not text:
        return "-"
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


# -- run ---------------------------------------------------------------------------------------


@click.command()
@config_option
@click.option("--grace", default=f"{DEFAULT_GRACE_SECONDS:g}s", show_default=True,
              help="On SIGTERM/SIGINT: time allowed to finish in-flight requests and batches.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
@click.option("--new-store", is_flag=True,
              help="Start with an empty store when the one at [buffer] path is lost (0 bytes, or gone beside its "
                   "files): move what is left aside first. Refused when the store holds events or dead letters.")
def run(config_path: Path, grace: str, log_level: str, new_store: bool) -> None:
    """Run the sidecar: the HTTP ingest API in front of the durable buffer and the sink workers."""
    try:
        grace_seconds = units.parse_duration(grace)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--grace") from None
    config = read_config(config_path)
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    if new_store:
        from shippers.buffer.presence import start_fresh

        try:
            aside = start_fresh(Path(config.buffer.path))
        except (AuthlogError, OSError) as exc:
            fail(str(exc))
        if aside is not None:
            errors.print(f"--new-store: what was left of the store is in {aside}; starting with an empty store",
                         highlight=False, markup=False, soft_wrap=True)
    try:
        code = serve(config, grace=grace_seconds)
    except ConfigError as exc:
        report_config_error(exc, config_path)
    except (AuthlogError, OSError) as exc:
        fail(str(exc))
    sys.exit(code)


# -- send --------------------------------------------------------------------------------------


def _file_chunks(stream: IO[bytes], size: int) -> Iterator[tuple[list[bytes], list[int], int]]:
    """(non-blank lines, their 1-based line numbers, bytes read) per chunk of ``size`` events."""
    lines: list[bytes] = []
    numbers: list[int] = []
    consumed = 0
    for number, line in enumerate(stream, start=1):
        consumed += len(line)
        item = line.strip()
        if not item:
            continue
        lines.append(item)
        numbers.append(number)
        if len(lines) == size:
            yield lines, numbers, consumed
            lines, numbers, consumed = [], [], 0
    if lines:
        yield lines, numbers, consumed


def _sample_chunks(count: int, seed: int, size: int) -> Iterator[tuple[list[bytes], list[int], int]]:
    encoder = msgspec.json.Encoder()
    events = sample_events(count, seed)
    start = 0
    while chunk := list(islice(events, size)):
        yield [encoder.encode(e) for e in chunk], list(range(start, start + len(chunk))), len(chunk)
        start += len(chunk)


@click.command()
@config_option
@url_option
@token_option
@click.argument("file", type=click.File("rb"), required=False)
@click.option("--samples", type=click.IntRange(min=1), help="Send N generated sample events (every catalog type) instead of a file.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample generator (same seed, same ids).")
@click.option("--chunk", type=click.IntRange(min=1), default=DEFAULT_CHUNK, show_default=True, help="Events per request.")
@click.option("--gzip", "use_gzip", is_flag=True, help="Compress each request with gzip.")
@click.option("--attempts", type=click.IntRange(min=1), default=DEFAULT_ATTEMPTS, show_default=True,
              help="Tries per request when the sidecar is down, full (503) or failing (5xx).")
def send(config_path: Path, url: str | None, token: str | None, file: IO[bytes] | None, samples: int | None,
         seed: int, chunk: int, use_gzip: bool, attempts: int) -> None:
    """Post NDJSON events from FILE ('-' for stdin), or --samples N generated ones, to a running sidecar.

    Exits 1 when any event was rejected or the sidecar could not be reached.
    """
    if (file is None) == (samples is None):
        raise click.UsageError("give either FILE or --samples N (not both)")
    config = optional_config(config_path)
    target = sidecar_url(config, url)
    client = Client(target, sidecar_token(config, token), gzip=use_gzip, retry=RetryPolicy(attempts=attempts))
    total: int | None
    if samples is not None:
        chunks, total, label, unit = _sample_chunks(samples, seed, chunk), samples, "events", "event"
    else:
        assert file is not None
        chunks, label, unit = _file_chunks(file, chunk), f"{getattr(file, 'name', 'stdin')} (bytes)", "line"
        total = _stream_size(file)
    accepted = 0
    rejected: list[tuple[int, str]] = []
    try:
        with client, progress_bar() as progress:
            task = progress.add_task(f"sending {label}", total=total)
            for lines, numbers, advance in chunks:
                result: SendResult = client.send_lines(lines)
                accepted += result.accepted
                rejected += [(numbers[index], message) for index, message in result.rejected]
                progress.advance(task, advance)
    except RequestRejected as exc:
        fail(f"the sidecar at {target} refused the request: {exc.message}", EXIT_CONFIG)
    except ClientError as exc:
        fail(exc.message)
    for where, message in rejected[:MAX_SHOWN_REJECTIONS]:
        console.print(f"  [red]rejected[/] {unit} {where}: {escape(message)}", highlight=False, soft_wrap=True)
    if len(rejected) > MAX_SHOWN_REJECTIONS:
        console.print(f"  ... and {len(rejected) - MAX_SHOWN_REJECTIONS} more", highlight=False)
    style = "red" if rejected else "green"
    console.print(f"[{style}]{accepted} accepted, {len(rejected)} rejected[/] ({target})", highlight=False)
    if rejected:
        sys.exit(EXIT_RUNTIME)


def _stream_size(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size or None
    except (OSError, ValueError):
        return None


# -- status ------------------------------------------------------------------------------------


def fetch_status(config: Config | None, url: str | None, token: str | None) -> tuple[dict[str, Any], str]:
    """(status document, where it came from): the running sidecar, else the store."""
    target = sidecar_url(config, url)
    try:
        with Client(target, sidecar_token(config, token), retry=NO_RETRY, timeout=PROBE_TIMEOUT_SECONDS) as client:
            return client.status(), f"sidecar {target}"
    except RequestRejected as exc:
        fail(f"the sidecar at {target} refused: {exc.message}", EXIT_CONFIG)
    except SidecarUnavailable as exc:
        if exc.status is not None:  # it answered, with a 5xx: report it rather than hide it behind the store
            fail(exc.message)
        if url and config is None:
            fail(exc.message)
    except ClientError as exc:
        fail(exc.message)
    shipper = open_store(config)
    try:
        return shipper.status(), f"store {store_where(config)} (no sidecar answered at {target})"
    finally:
        shipper.close(0.0)


def status_summary(document: dict[str, Any], source: str) -> str:
    """The line under the table: where the numbers come from and how full the buffer is."""
    buffer = document.get("buffer", {})
    return (
        f"{source}; buffer {buffer.get('events', 0)} events, {units.format_size(int(buffer.get('bytes', 0)))}"
        f" of {units.format_size(int(buffer.get('maxBytes', 0)))}; up {document.get('uptimeSeconds', 0):.0f}s"
    )


def fleet_table(fleet: dict[str, Any]) -> Table:
    """The members a JetStream fleet's status can see, with their age, and this one marked."""
    table = Table(title=f"fleet on stream {fleet.get('stream', '?')}: {len(fleet.get('members', []))} member(s)")
    for column in ("member", "host", "pid", "sinks", "age"):
        table.add_column(column, justify="right" if column in ("pid", "age") else "left")
    for member in fleet.get("members", []):
        mark = " (this one)" if member.get("id") == fleet.get("member") else ""
        table.add_row(f"{member.get('id')}{mark}", str(member.get("host")), str(member.get("pid")), ", ".join(member.get("sinks", [])),
                      f"{member.get('ageSeconds', 0):.0f}s")
    return table


def fleet_limits_line(limits: dict[str, dict[str, int]]) -> str:
    """One line: what each of the fleet's streams holds against its byte limit (full -> 503 for events)."""
    names = {"events": "events", "deadLetters": "dead letters", "cuts": "cuts bucket", "members": "members bucket"}

    def of(figures: dict[str, int]) -> str:
        limit = figures.get("maxBytes", -1)
        return f"{units.format_size(figures.get('bytes', 0))} of {units.format_size(limit) if limit > 0 else 'no limit'}"

    return "fleet storage: " + ", ".join(f"{names.get(what, what)} {of(figures)}" for what, figures in limits.items())


def status_table(document: dict[str, Any], width_of: Console) -> RenderableType:
    """Each sink's row (a list when too narrow for rows), fitted to ``width_of``'s width with every cell whole (shippers.cli.sink_table)."""
    sinks = sorted(document.get("sinks", {}).items())
    columns = STATUS_COLUMNS + ((RESTARTS_COLUMN,) if any("deliveryRestarts" in sink for _, sink in sinks) else ())
    return sink_table(columns, sinks, width_of, title=f"authlog {document.get('version', '')}")


def enrichment_line(document: dict[str, Any]) -> str | None:
    """``enrichment failures: geo 3, asn 0, ...`` once a look-up failed since the sidecar started; None before, or without [enrich]."""
    failures = document.get("enrichmentFailures") or {}
    if not any(failures.values()):
        return None
    by_lookup = ", ".join(f"{lookup} {n:,}" for lookup, n in failures.items())
    return f"enrichment failures: {by_lookup} (look-ups that raised; those events are stored without enrichment)"


@click.command()
@config_option
@url_option
@token_option
@click.option("--json", "as_json", is_flag=True, help="Print the /v1/status document as JSON.")
def status(config_path: Path, url: str | None, token: str | None, as_json: bool) -> None:
    """Show each sink's state, lag, deliveries, retries, DLQ and drops (sidecar, else the store)."""
    config = optional_config(config_path)
    document, source = fetch_status(config, url, token)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(document, enc_hook=plain_json), indent=2))
        return
    console.print(status_table(document, console))
    for line in error_lines(sorted(document.get("sinks", {}).items())):
        console.print(Text("last error ").append_text(line), highlight=False)
    console.print(status_summary(document, source), soft_wrap=True, highlight=False, markup=False)
    if line := enrichment_line(document):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    for name, detail in document.get("forgottenSinks", {}).items():
        console.print(f"forgotten sink {name}: {detail.get('dropped', 0)} event(s) dropped ({detail.get('reason', '?')})",
                      soft_wrap=True, highlight=False, markup=False)
    if "fleet" in document:
        console.print(fleet_table(document["fleet"]))
        for name, figures in sorted(document["fleet"].get("sinks", {}).items()):
            console.print(f"sink {name} on the fleet: {figures.get('pending', 0)} pending, {figures.get('unacknowledged', 0)} "
                          f"unacknowledged, {figures.get('redelivered', 0)} redelivered; this member delivered "
                          f"{figures.get('ownDelivered', 0)} and holds {figures.get('ownHeld', 0)}", soft_wrap=True, highlight=False, markup=False)
        if limits := document["fleet"].get("limits"):
            console.print(fleet_limits_line(limits), soft_wrap=True, highlight=False, markup=False)
    for line in document.get("warnings", []):
        errors.print(f"warning: {line}", soft_wrap=True, highlight=False, markup=False)
    for line in document.get("errors", []):
        errors.print(f"error: {line}", soft_wrap=True, highlight=False, markup=False)


# -- dlq ---------------------------------------------------------------------------------------


@click.group()
def dlq() -> None:
    """Inspect, replay or purge the dead-letter queues (one per sink)."""


def _sinks(config: Config, sink: str | None) -> list[str]:
    if sink is None:
        return list(config.sinks)
    if sink not in config.sinks:
        fail(f"unknown sink '{sink}'; configured sinks: {', '.join(sorted(config.sinks))}", EXIT_CONFIG)
    return [sink]


def _letter_rows(config: Config | None, url: str | None, token: str | None, sink: str | None, limit: int) -> tuple[list[dict[str, Any]], str]:
    target = sidecar_url(config, url)
    try:
        with Client(target, sidecar_token(config, token), retry=NO_RETRY, timeout=PROBE_TIMEOUT_SECONDS) as client:
            return client.dead_letters(sink, limit), f"sidecar {target}"
    except RequestRejected as exc:
        fail(f"the sidecar at {target} refused: {exc.message}", EXIT_CONFIG)
    except SidecarUnavailable as exc:
        if exc.status is not None:
            fail(exc.message)
    except ClientError as exc:
        fail(exc.message)
    shipper = open_store(config)
    try:
        letters = shipper.dead_letters(sink, limit)
        return [dead_letter_json(letter) for letter in letters], f"store {shipper.config.buffer.path}"
    finally:
        shipper.close(0.0)


@dlq.command("list")
@config_option
@url_option
@token_option
@click.option("--sink", help="Only this sink's dead letters (default: every sink).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the dead letters (with their events) as JSON.")
def dlq_list(config_path: Path, url: str | None, token: str | None, sink: str | None, limit: int, as_json: bool) -> None:
    """List dead letters: sink, when, why, and which event."""
    config = optional_config(config_path)
    if config is not None and sink is not None:
        _sinks(config, sink)
    letters, source = _letter_rows(config, url, token, sink, limit)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(letters), indent=2))
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("sink", "seq", "at (UTC)", "type", "event id", "reason"):
        table.add_column(column)
    for letter in letters:
        event = letter.get("event") or {"type": "[withheld: does not decode]"}  # null: the stored body does not decode
        at = datetime.fromtimestamp(float(letter.get("at", 0)), UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(letter["sink"]), str(letter["seq"]), at, str(event.get("type", "?")), str(event.get("id", "?")),
                      escape(_cut(str(letter.get("reason", "")))))
    console.print(table)
    console.print(f"from {source}", soft_wrap=True, highlight=False, markup=False)


@dlq.command("replay")
@config_option
@click.option("--sink", help="Only this sink's dead letters (default: every sink).")
def dlq_replay(config_path: Path, sink: str | None) -> None:
    """Re-queue dead letters for their own sink only; they go through the normal delivery path."""
    config = read_config(config_path)
    names = _sinks(config, sink)
    shipper = open_store(config)
    try:
        with progress_bar() as progress:
            total = 0
            for name in names:
                task = progress.add_task(f"replaying {name}", total=None)

                def advance(done: int, of: int, task: Any = task) -> None:
                    progress.update(task, completed=done, total=of)

                count = shipper.replay_dead_letters(name, advance)
                progress.update(task, completed=count, total=count)
                total += count
    except AuthlogError as exc:
        fail(f"replay failed: {exc}")
    finally:
        shipper.close(0.0)
    console.print(f"[green]re-queued {total} dead letter(s)[/] for {', '.join(names)}", highlight=False)


@dlq.command("purge")
@config_option
@click.option("--sink", help="Only this sink's dead letters (default: every sink).")
@click.option("--older-than", help="Only dead letters older than this, e.g. 7d, 12h.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def dlq_purge(config_path: Path, sink: str | None, older_than: str | None, yes: bool) -> None:
    """Delete dead letters for good."""
    age = None
    if older_than is not None:
        try:
            age = units.parse_duration(older_than)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--older-than") from None
    config = read_config(config_path)
    names = _sinks(config, sink)
    what = f"dead letters of {', '.join(names)}" + (f" older than {older_than}" if older_than else "")
    if not yes and not click.confirm(f"delete the {what}?", err=True):
        fail("nothing deleted", EXIT_RUNTIME)
    shipper = open_store(config)
    try:
        count = shipper.purge_dead_letters(sink, age)
    except AuthlogError as exc:
        fail(f"purge failed: {exc}")
    finally:
        shipper.close(0.0)
    console.print(f"deleted {count} {what}", highlight=False)


# -- sinks -------------------------------------------------------------------------------------


@click.group()
def sinks() -> None:
    """Manage sink positions in the store (a sink removed from the config keeps its backlog until forgotten)."""


@sinks.command("forget")
@config_option
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def sinks_forget(config_path: Path, name: str, yes: bool) -> None:
    """Drop sink NAME's position and its undelivered events on purpose; they are counted as dropped (reason sink_removed).

    Run it with no process delivering from the store (the sidecar or app stopped): a delivering
    process whose config lacks a sink with a backlog refuses to start and names this command.
    Its dead letters are kept (see `authlog dlq purge`).
    """
    config = read_config(config_path)
    if not yes and not click.confirm(f"drop sink '{name}' and the events it has not delivered (counted as dropped)?", err=True):
        fail("nothing dropped", EXIT_RUNTIME)
    shipper = open_store(config)
    try:
        dropped = shipper.buffer.forget_sink(name)
    except KeyError:
        stored = ", ".join(row.name for row in shipper.buffer.sinks()) or "none"
        fail(f"the store {store_where(config)} has no sink '{name}' (its sinks: {stored})", EXIT_CONFIG)
    except BufferLockedError as exc:
        fail(f"sinks forget refused: {exc}; stop the process that delivers from the store first (a sink's position "
             "must not be pulled from under its worker)")
    except AuthlogError as exc:
        fail(f"sinks forget failed: {exc}")
    finally:
        shipper.close(0.0)
    console.print(f"forgot sink '{name}': dropped {dropped} undelivered event(s), counted as dropped (reason sink_removed)",
                  highlight=False, markup=False)


__all__ = ["dlq", "run", "send", "sinks", "status"]
