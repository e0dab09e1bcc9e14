"""The ``file`` sink: append archive lines (DESIGN.md) to a local NDJSON file, rotating by size.

The line is exactly what the S3 sink archives, so a file sink is also the cheapest way to
see what the pipeline produces. Rotation renames ``events.ndjson`` to
``events.ndjson.<N>`` (N counting up) when the next batch would pass ``max_file_bytes``;
rotated files are kept unless ``max_files`` says otherwise. :mod:`adapters.file.output` makes
each batch's append all or nothing and serialises the senders of one path. Delivery is
at-least-once: a crash between the write and the ack repeats that batch's lines.
"""

from __future__ import annotations

import errno

import msgspec

from adapters.contract import Adapter, BatchLimits, HardLimits, Request, SinkContext, Verdict
from adapters.file.output import AppendError, OtherWriterError, OutputFile
from shippers.config import ByteSize, FilePath
from shippers.event import Event

# Why: local disk takes anything; batches only bound memory and the fsync rate.
BATCH_DEFAULTS = BatchLimits(max_events=5000, max_bytes=4 * 1024 * 1024, timeout=0.2)
# Why: the same per-request ceiling as the S3 archive keeps the two sinks interchangeable.
HARD_LIMITS = HardLimits(max_events=100_000, max_bytes=64 * 1024 * 1024, max_item_bytes=1024 * 1024)
# Why: these say "no room": a retry succeeds once space (or quota) is freed, so they are not config errors.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


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
    default_concurrency = 1  # a local append does not wait on a network; one writer per path anyway
    archive_line = True
    reads_event_keys = True  # it writes the stored bytes and reads nothing of the event: the core decodes only the keys

    def __init__(self, context: SinkContext, config: FileConfig) -> None:
        super().__init__(context, config)
        self._output: OutputFile | None = OutputFile.claim(config.path)  # shared by every sender of this path in the process

    def map(self, event: Event) -> Event:
        return event

    def send(self, request: Request) -> Verdict:
        path = self.config.path
        payload = b"".join(item + b"\n" for item in request.items)
        try:
            if self._output is None:
                return Verdict.retry(f"the {path} sink is closed")
            self._output.append(
                payload,
                max_file_bytes=self.config.max_file_bytes,
                max_files=self.config.max_files,
                fsync=self.config.fsync,
                max_line=self.hard_limits.max_item_bytes + 1,
            )
        except OtherWriterError as exc:
            return Verdict.sink_error(f"cannot write {path}: {exc}; give each shipper its own sinks.{self.context.name}.path")
        except AppendError as exc:
            state = "the file is as it was before this batch" if exc.rolled_back else "the partial write is cut back before the next attempt"
            return self._os_error(path, exc.cause, f"; {state}")
        except OSError as exc:
            return self._os_error(path, exc, "")
        return Verdict.delivered()

    def _os_error(self, path: str, exc: OSError, state: str) -> Verdict:
        sink = self.context.name
        if isinstance(exc, PermissionError):
            return Verdict.sink_error(f"cannot write {path}: {exc.strerror}{state}; fix the folder's permissions or sinks.{sink}.path")
        if exc.errno in DISK_FULL_ERRNOS:
            return Verdict.retry(f"disk full writing {path} ({exc.strerror}){state}; free space there and the batch is sent again")
        if exc.errno == errno.EFBIG:
            return Verdict.sink_error(f"cannot write {path}: {exc.strerror}{state}; lower sinks.{sink}.max_file_bytes below the file size limit")
        return Verdict.retry(f"cannot write {path}: {exc.strerror}{state}")

    def close(self) -> None:
        if self._output is not None:
            self._output.release()
            self._output = None
