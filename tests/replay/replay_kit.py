"""Helpers of the replay tests: an archive world (bucket, index, folders), wire events over days, hours and tenants,
the archive written by our own s3 sink, a replay config as TOML, and the CLI run in or out of process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from shippers.cli.main import cli
from shippers.shipper import Shipper
from shippers.testing.fake_elasticsearch import FakeElasticsearch
from shippers.testing.moto_s3 import CREDENTIALS, MotoS3

ROOT = Path(__file__).resolve().parents[2]
BASE = datetime(2026, 11, 10, tzinfo=UTC)  # day 0 of the archive (past: every destination takes it)
TYPES = ["login.completed", "login.invalid_password", "signup.completed", "user.locked", "login.invalid_email"]
TENANTS = ["t-1", "t-2", "t-3"]
PREFIX = "authlog/"


@dataclass
class ArchiveWorld:
    s3: MotoS3
    es: FakeElasticsearch
    bucket: str
    index: str
    folder: Path

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{PREFIX}"

    def s3_sink(self, **extra: Any) -> dict[str, Any]:
        return {"type": "s3", "bucket": self.bucket, "endpoint_url": self.s3.url, "region": self.s3.region, "prefix": PREFIX,
                "partition_by": ["tenant"], "batch": {"max_events": 40}, "retry": {"initial": "10ms", "max": "50ms"}, **extra}

    def es_sink(self, **extra: Any) -> dict[str, Any]:
        return {"type": "elasticsearch", "hosts": [self.es.url], "index": self.index, "batch": {"timeout": "20ms"},
                "retry": {"initial": "10ms", "max": "50ms"}, **extra}

    def config(self, sinks: dict[str, dict[str, Any]], *, store: str = "replay-store", **sections: Any) -> Path:
        """A TOML config with a store in the test's folder, these sinks and the archive's s3 sink ``archive``; its path."""
        tables: dict[str, Any] = {"buffer": {"path": str(self.folder / store)}, **sections}
        tables.update({f"sinks.{name}": sink for name, sink in {"archive": self.s3_sink(), **sinks}.items()})
        path = self.folder / f"{store}-{len(list(self.folder.glob('*.toml')))}.toml"
        path.write_text("".join(_table(name, values) for name, values in tables.items()))
        return path

    def delivered(self) -> dict[str, Any]:
        return self.es.documents(self.index)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value)


def _table(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in values.items()) + "\n"


def wire_events(days: int = 3, hours: tuple[int, ...] = (0, 5, 13, 23), per_hour: int = 12, prefix: str = "r") -> list[dict[str, Any]]:
    """Events at several hours of several days, over every tenant (and one without)."""
    events = []
    n = 0
    for day in range(days):
        for hour in hours:
            for i in range(per_hour):
                moment = BASE + timedelta(days=day, hours=hour, minutes=i * 4)
                doc: dict[str, Any] = {"id": f"{prefix}-{n}", "type": TYPES[n % len(TYPES)], "userId": f"u-{n % 7}",
                                       "time": moment.isoformat().replace("+00:00", "Z")}
                if n % 4:
                    doc["tenantId"] = TENANTS[n % len(TENANTS)]
                if doc["type"] == "user.locked":
                    doc["reason"] = "locked"
                events.append(doc)
                n += 1
    return events


def write_archive(world: ArchiveWorld, events: list[dict[str, Any]], **sink: Any) -> list[dict[str, Any]]:
    """Ingest ``events`` into a shipper whose only sink is our s3 sink; wait until every one is archived."""
    config = {"buffer": {"path": str(world.folder / "writer-store")}, "sinks": {"archive": world.s3_sink(**sink)}}
    with Shipper.from_config(config, deliver=True) as shipper:
        result = shipper.ingest_raw([json.dumps(e).encode() for e in events])
        assert result.accepted == len(events), result.rejected
        assert shipper.flush(60)
    return events


def in_range(event: dict[str, Any], since: datetime, until: datetime) -> bool:
    return since <= datetime.fromisoformat(event["time"]) < until


def run_cli(*args: str) -> Result:
    """``authlog ARGS`` in this process (the click runner); the result's output holds stdout and stderr."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def cli_process(*args: str) -> subprocess.Popen[bytes]:
    """``authlog ARGS`` as a child process (for kill -9), with this tree on its path and test AWS credentials."""
    env = {**os.environ, **CREDENTIALS, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "shippers.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
