"""``authlog demo``: the whole pipeline on local stand-ins, no cloud account needed.

What it does, in order:

1. starts the local stand-in of every destination (``shippers.testing``): moto's S3 server,
   the Elasticsearch, Datadog and Cloud Logging fakes, all on loopback ports;
2. writes an ``authlog.toml`` pointing one sink at each of them, plus a ``file`` sink;
3. starts the sidecar (``authlog run``) as a child process on that config;
4. streams sample events of every catalog type through the HTTP ingest API;
5. waits until every sink has delivered, then shows what arrived where and one document per
   destination (the same event through each mapping layer);
6. stops the sidecar with SIGTERM (the graceful path) and the stand-ins.

The work folder (default ``./authlog-demo``) keeps the config, the buffer and the file
sink's NDJSON afterwards so they can be inspected or reused with ``authlog run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from shippers import data
from shippers.client import Client
from shippers.samples import sample_events

# Why: a marker so the demo only ever wipes a folder it created itself.
MARKER = ".authlog-demo"
BUCKET = "authlog-demo"
PROJECT = "authlog-demo"
DD_KEY = "demo-dd-api-key"
# Why: events per ingest request; small enough that the progress bar moves smoothly.
CHUNK = 250
# Why: the sidecar starts in about a second; 30 s only runs out when it cannot start.
START_TIMEOUT_SECONDS = 30.0
# Why: the demo volume drains in a few seconds; the bound keeps a broken sink from hanging it.
DRAIN_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.2
SHOWCASE_TYPE = "magic_link.failed"



@dataclass
class StandIns:
    s3: Any
    elasticsearch: Any
    datadog: Any
    cloud_logging: Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def stand_ins() -> Iterator[StandIns]:
    """Every destination's local stand-in, started on loopback and stopped afterwards."""
    from shippers.testing.fake_cloud_logging import FakeCloudLogging
    from shippers.testing.fake_datadog import FakeDatadog
    from shippers.testing.fake_elasticsearch import FakeElasticsearch
    from shippers.testing.moto_s3 import MotoS3

    with contextlib.ExitStack() as stack:
        s3 = stack.enter_context(MotoS3())
        s3.make_bucket(BUCKET)
        yield StandIns(
            s3=s3,
            elasticsearch=stack.enter_context(FakeElasticsearch()),
            datadog=stack.enter_context(FakeDatadog(api_key=DD_KEY)),
            cloud_logging=stack.enter_context(FakeCloudLogging(projects=(PROJECT,))),
        )


def demo_config(folder: Path, port: int, fakes: StandIns) -> str:
    """The authlog.toml of the demo: one sink per destination, each pointed at its stand-in."""
    return f"""\
# Written by `authlog demo`: every sink points at a local stand-in on loopback.
[server]
listen = "127.0.0.1:{port}"

[buffer]
path = "./buffer"

# Demo data: tiny MaxMind databases placing the samples' documentation addresses in made-up
# cities (shippers/testing/geo_databases.py builds them). Point these at GeoLite2-City / -ASN.
[enrich]
geoip_db = "{data.FOLDER / data.DEMO_CITY_FILE}"
asn_db = "{data.FOLDER / data.DEMO_ASN_FILE}"
user_agent = true

[sinks.local]
type = "file"
path = "./out/events.ndjson"

[sinks.archive]
type = "s3"
bucket = "{BUCKET}"
region = "us-east-1"
endpoint_url = "{fakes.s3.url}"
force_path_style = true
prefix = "authlog/"
partition_by = ["tenant"]
batch = {{ timeout = "1s" }}

[sinks.search]
type = "elasticsearch"
hosts = ["{fakes.elasticsearch.url}"]

[sinks.dd]
type = "datadog"
api_key = "{DD_KEY}"
endpoint = "{fakes.datadog.url}"
service = "authlog-demo"
env = "demo"
batch = {{ timeout = "1s" }}

[sinks.gcl]
type = "cloud_logging"
project = "{PROJECT}"
log_name = "authlog"
endpoint = "{fakes.cloud_logging.url}"
"""


def prepare_folder(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists():
            raise SystemExit(f"{folder} exists and was not made by `authlog demo`; pass --dir to choose another folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by authlog demo; safe to delete\n")


def start_sidecar(config_file: Path, log_file: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    # The S3 sink talks to the local moto server: give boto3 throwaway credentials, never real ones.
    env.update(AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    with log_file.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "shippers.cli", "run", "-c", str(config_file)],
            stdout=log, stderr=subprocess.STDOUT, cwd=config_file.parent, env=env,
        )


def wait_ready(client: Client, sidecar: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if sidecar.poll() is not None:
            raise SystemExit(f"the sidecar exited with code {sidecar.returncode}; its log:\n{log_file.read_text()}")
        with contextlib.suppress(Exception):
            if client.ready():
                return
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"the sidecar did not become ready within {START_TIMEOUT_SECONDS:.0f}s; see {log_file}")


def arrived(fakes: StandIns, folder: Path) -> dict[str, tuple[int, Any]]:
    """Per sink: how many events the destination holds, and the showcase event's document there."""
    local_lines = [json.loads(line) for line in (folder / "out" / "events.ndjson").read_text().splitlines()] if (folder / "out" / "events.ndjson").exists() else []
    s3_lines = [line for lines in fakes.s3.read_lines(BUCKET).values() for line in lines]
    es_docs = list(fakes.elasticsearch.documents().values())
    dd_items = fakes.datadog.items()
    gcl_entries = fakes.cloud_logging.entries()

    def first(docs: list[Any], match: Any) -> Any:
        return next((d for d in docs if match(d)), None)

    # The same event through every mapping layer: a magic_link.failed that carries a reason.
    showcase = first(local_lines, lambda d: d.get("type") == SHOWCASE_TYPE and "reason" in d) or {}
    showcase_id = showcase.get("id")

    return {
        "local": (len(local_lines), first(local_lines, lambda d: d.get("id") == showcase_id)),
        "archive": (len(s3_lines), first(s3_lines, lambda d: d.get("id") == showcase_id)),
        "search": (len(es_docs), first(es_docs, lambda d: d.get("event", {}).get("id") == showcase_id)),
        "dd": (len(dd_items), first(dd_items, lambda d: d.get("evt", {}).get("id") == showcase_id)),
        "gcl": (len(gcl_entries), first(gcl_entries, lambda d: d.get("insertId") == showcase_id)),
    }


def run_demo(folder: Path, count: int, console: Console) -> int:
    """Run the demo; return the exit code (0 when every sink received every event)."""
    folder = folder.resolve()
    prepare_folder(folder)
    with stand_ins() as fakes:
        port = _free_port()
        config_file = folder / "authlog.toml"
        config_file.write_text(demo_config(folder, port, fakes))
        console.print(f"[bold]authlog demo[/] in {folder}")
        console.print(f"  stand-ins: S3 {fakes.s3.url}  Elasticsearch {fakes.elasticsearch.url}  Datadog {fakes.datadog.url}  Cloud Logging {fakes.cloud_logging.url}")
        log_file = folder / "sidecar.log"
        sidecar = start_sidecar(config_file, log_file)
        try:
            with Client(f"http://127.0.0.1:{port}") as client:
                wait_ready(client, sidecar, log_file)
                console.print(f"  sidecar: pid {sidecar.pid} on 127.0.0.1:{port} (log: {log_file.name})")
                sent = stream(client, count, console)
                status = drain(client, len(sent), console)
            sidecar.send_signal(signal.SIGTERM)
            sidecar.wait(timeout=START_TIMEOUT_SECONDS)
        finally:
            if sidecar.poll() is None:
                sidecar.kill()
        return summarise(fakes, folder, status, len(sent), console)


def stream(client: Client, count: int, console: Console) -> list[str]:
    events = list(sample_events(count, seed=7))
    ids: list[str] = []
    with _progress(console) as progress:
        task = progress.add_task("ingest  ", total=count)
        for start in range(0, count, CHUNK):
            chunk = events[start : start + CHUNK]
            result = client.send(chunk)
            if result.rejected:
                raise SystemExit(f"the sidecar rejected sample events: {result.rejected[:3]}")
            ids += [e["id"] for e in chunk]
            progress.advance(task, len(chunk))
    return ids


def drain(client: Client, count: int, console: Console) -> dict[str, Any]:
    """Wait until every sink is caught up (or the bound passes); show delivery progress."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    status = client.status()
    with _progress(console) as progress:
        tasks = {name: progress.add_task(f"{name:<8}", total=count) for name in status["sinks"]}
        while True:
            status = client.status()
            done = True
            for name, sink in status["sinks"].items():
                settled = sink["delivered"] + sink["duplicates"] + sink["deadLettered"]
                progress.update(tasks[name], completed=min(settled, count))
                done = done and sink["lagEvents"] == 0
            if done or time.monotonic() > deadline:
                return status
            time.sleep(POLL_SECONDS)


def summarise(fakes: StandIns, folder: Path, status: dict[str, Any], sent: int, console: Console) -> int:
    holdings = arrived(fakes, folder)
    table = Table(title=f"{sent} sample events of every catalog type, through each destination's stand-in")
    for column in ("sink", "type", "delivered", "DLQ", "state", "arrived at the stand-in"):
        table.add_column(column)
    ok = True
    for name, sink in status["sinks"].items():
        held, _ = holdings.get(name, (0, None))
        complete = held >= sent and sink["deadLettered"] == 0
        ok = ok and complete
        style = "green" if complete else "red"
        table.add_row(name, sink["type"], str(sink["delivered"]), str(sink["deadLettered"]), sink["state"], f"[{style}]{held}[/]")
    console.print(table)
    for name, (_, document) in holdings.items():
        if document is not None:
            console.print(f"[bold]{name}[/] ({status['sinks'][name]['type']}): one {SHOWCASE_TYPE} event as that destination stores it")
            console.print(Syntax(json.dumps(document, indent=2, sort_keys=True)[:2000], "json", word_wrap=True))
    console.print(f"config, buffer and the file sink's NDJSON are in {folder}")
    console.print("[green]every sink received every event[/]" if ok else "[red]some sink is missing events: see the table and sidecar.log[/]")
    return 0 if ok else 1


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
