"""An archive object read whole: gunzipped within a bound, so a gzip bomb is an unreadable object, never the machine's memory."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from isal import igzip, isal_zlib

from shippers.replay.sources import (
    MAX_OBJECT_LINES_BYTES,
    ArchiveObject,
    FileSource,
    ObjectUnreadable,
    S3Source,
    gunzipped,
)

# Why: 1 MiB of zeros per write keeps the bomb's making small in memory (it inflates to 300 MiB).
_CHUNK = b"\0" * (1 << 20)


def bomb(inflated_mib: int) -> bytes:
    """A gzip member of ``inflated_mib`` MiB of zeros (about 1/100 of that compressed)."""
    compressor = isal_zlib.compressobj(0, isal_zlib.DEFLATED, 31)
    out = io.BytesIO()
    for _ in range(inflated_mib):
        out.write(compressor.compress(_CHUNK))
    out.write(compressor.flush())
    return out.getvalue()


def test_a_gzip_bomb_is_an_unreadable_object_naming_the_bound() -> None:
    """An object inflating past the bound (300 MiB from 3 MB) is refused with its key, after inflating no more than the bound."""
    assert MAX_OBJECT_LINES_BYTES < 300 * 1024 * 1024
    with pytest.raises(ObjectUnreadable, match=r"dt=2026-11-01/hour=00/bomb.ndjson.gz: .*MiB"):
        gunzipped(bomb(300), "dt=2026-11-01/hour=00/bomb.ndjson.gz")


def test_objects_of_several_gzip_members_and_plain_files_read_whole(tmp_path: Path) -> None:
    """Concatenated gzip members (a file gzipped in parts) read as one text; a plain file is read as stored."""
    assert gunzipped(igzip.compress(b'{"a": 1}\n') + igzip.compress(b'{"b": 2}\n'), "k") == b'{"a": 1}\n{"b": 2}\n'
    with pytest.raises(ObjectUnreadable, match="k: not a readable gzip object"):
        gunzipped(igzip.compress(b"x" * 1000)[:-9], "k")  # its trailer cut off
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"a": 1}\n')
    source = FileSource(path)
    [obj] = source.objects(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), None)
    assert source.read(obj) == b'{"a": 1}\n'


def test_an_s3_object_larger_than_the_bound_is_never_fetched() -> None:
    """An S3 object listed larger than the bound is unreadable by its listed size alone: GetObject is never called."""

    class NoFetch:
        def get_object(self, **_: object) -> object:
            raise AssertionError("fetched")

    source = S3Source("bucket", "authlog/")
    source._client = NoFetch()
    with pytest.raises(ObjectUnreadable, match=r"huge.ndjson.gz: 5,000,000,000 bytes"):
        source.read(ArchiveObject("huge.ndjson.gz", 5_000_000_000, "huge.ndjson.gz"))


def test_a_file_reusing_a_deleted_files_inode_is_a_new_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file sink deletes its oldest rotated file; a new file given the same inode gets its own checkpoint, while rotation and appends keep one."""
    real_stat = Path.stat

    def same_inode(self: Path, **kwargs: object) -> os.stat_result:
        real = real_stat(self, **kwargs)  # type: ignore[arg-type]
        return os.stat_result((real.st_mode, 4242, 7, *real[3:10]))  # every file: inode 4242 on device 7

    monkeypatch.setattr(Path, "stat", same_inode)
    path = tmp_path / "events.ndjson"
    source = FileSource(path)
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)

    def checkpoints() -> list[str]:
        return [obj.checkpoint for obj in source.objects(since, until, None)]

    path.write_bytes(b'{"id": "a1"}\n{"id": "a2"}\n')
    [first] = checkpoints()
    with path.open("ab") as out:
        out.write(b'{"id": "a3"}\n')
    assert checkpoints() == [first]
    path.rename(tmp_path / "events.ndjson.1")
    assert checkpoints() == [first]
    (tmp_path / "events.ndjson.1").unlink()
    path.write_bytes(b'{"id": "b1"}\n')
    [second] = checkpoints()
    assert second != first
