"""The ``file`` sink: append archive lines (DESIGN.md) to a local NDJSON file, rotating by size.

The line is exactly what the S3 sink archives, so a file sink is also the cheapest way to
see what the pipeline produces. Rotation renames ``events.ndjson`` to
``events.ndjson.<N>`` (N counting up) when the next batch would pass ``max_file_bytes``;
rotated files are kept unless ``max_files`` says otherwise. Delivery is at-least-once:
a crash between the write and the ack repeats that batch's lines.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from adapters.contract import Adapter, BatchLimits, HardLimits, Request, Verdict
from shippers.config import ByteSize, FilePath
from shippers.event import Event

# Why: local disk takes anything; batches only bound memory and the fsync rate.
BATCH_DEFAULTS = BatchLimits(max_events=5000, max_bytes=4 * 1024 * 1024, timeout=0.2)
# Why: the same per-request ceiling as the S3 archive keeps the two sinks interchangeable.
HARD_LIMITS = HardLimits(max_events=100_000, max_bytes=64 * 1024 * 1024, max_item_bytes=1024 * 1024)


class FileConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: FilePath
    # Why: 100 MiB files are easy to ship, grep and gzip by hand.
    max_file_bytes: ByteSize = ByteSize(100 * 1024 * 1024)
    max_files: int = 0  # rotated files to keep; 0 keeps them all
    fsync: bool = True  # fsync each batch before acknowledging it


class FileAdapter(Adapter):
    name = "file"
    summary = "archive lines as NDJSON in a local file, rotated by size"
    Config = FileConfig
    batch_defaults = BATCH_DEFAULTS
    hard_limits = HARD_LIMITS
    archive_line = True

    def map(self, event: Event) -> Event:
        return event

    def send(self, request: Request) -> Verdict:
        path = Path(self.config.path)
        payload = b"".join(item + b"\n" for item in request.items)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size + len(payload) > self.config.max_file_bytes:
                self._rotate(path)
            with path.open("ab") as out:
                out.write(payload)
                out.flush()
                if self.config.fsync:
                    os.fsync(out.fileno())
        except PermissionError as exc:
            return Verdict.sink_error(f"cannot write {path}: {exc.strerror}; fix the folder's permissions or sinks.{self.context.name}.path")
        except OSError as exc:
            return Verdict.retry(f"cannot write {path}: {exc.strerror}")
        return Verdict.delivered()

    def _rotate(self, path: Path) -> None:
        rotated = sorted(
            (int(p.suffix[1:]) for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
        )
        next_index = (rotated[-1] + 1) if rotated else 1
        path.rename(path.with_name(f"{path.name}.{next_index}"))
        if self.config.max_files > 0:
            for index in [*rotated, next_index][: -self.config.max_files]:
                path.with_name(f"{path.name}.{index}").unlink(missing_ok=True)
