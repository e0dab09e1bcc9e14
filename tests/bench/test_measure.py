"""bench/_measure.py: which processes count as the shipper's, and the figures summed over them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # the benchmarks' own modules

from _measure import ProcessTree, percentile, stored_in_file

# Why: the children only need to live while the test looks at them; the cap ends a forgotten one.
CHILD_SECONDS = "60"


@pytest.fixture
def two_children() -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    children = (subprocess.Popen(["sleep", CHILD_SECONDS]), subprocess.Popen(["sleep", CHILD_SECONDS]))
    yield children
    for child in children:
        child.kill()
        child.wait()


def test_a_tree_holds_the_root_and_its_children_but_not_an_excluded_one(two_children: tuple[subprocess.Popen[bytes], ...]) -> None:
    """The far end (excluded) is left out; a child the shipper spawned is in, with the root itself."""
    far_end, worker = two_children
    tree = ProcessTree(os.getpid(), exclude=[far_end.pid])
    members = tree.pids()
    assert worker.pid in members and far_end.pid not in members
    assert members[0] == tree.root


def test_shipper_here_excludes_the_children_that_exist_when_it_is_made(two_children: tuple[subprocess.Popen[bytes], ...]) -> None:
    """Processes started before the tree (endpoints) are not the shipper's; one started after is."""
    tree = ProcessTree.shipper_here()
    later = subprocess.Popen(["sleep", CHILD_SECONDS])
    try:
        members = tree.pids()
        assert later.pid in members
        assert not {child.pid for child in two_children} & set(members)
    finally:
        later.kill()
        later.wait()


def test_peak_rss_adds_up_every_member_and_keeps_one_that_exited(two_children: tuple[subprocess.Popen[bytes], ...]) -> None:
    """Summed VmHWM grows with a member; a member that exits after a sample keeps its figure."""
    alone = ProcessTree(two_children[0].pid).peak_rss_bytes()
    tree = ProcessTree(os.getpid())
    both = tree.peak_rss_bytes()
    assert alone > 0 and both > alone
    two_children[1].kill()
    two_children[1].wait()
    assert tree.peak_rss_bytes() >= both
    assert tree.processes >= 3


def test_percentile_is_the_nearest_rank() -> None:
    """p99 of 1..100 is 99, p50 is 50, and one value is every percentile."""
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.99), percentile(values, 0.5), percentile([7.0], 0.99)) == (99.0, 50.0, 7.0)


def test_stored_in_file_counts_lines_and_distinct_ids(tmp_path: Path) -> None:
    """A repeated id is two lines, one distinct id."""
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "a"}\n')
    assert stored_in_file(path) == (3, 2)


def test_reset_peaks_brings_a_peak_down_to_the_current_rss() -> None:
    """After a large allocation is freed, reset_peaks() lowers this process's VmHWM below the old peak."""
    tree = ProcessTree(os.getpid())
    ballast = bytearray(64 * 1024 * 1024)  # touched pages: the peak rises by ~64 MiB
    ballast[::4096] = b"x" * len(ballast[::4096])
    high = tree.peak_rss_bytes()
    del ballast
    tree.reset_peaks()
    assert tree.peak_rss_bytes() < high
