"""docs/RELIABILITY.md names the test behind every fault it lists: each named test must exist.

A row whose test was renamed or deleted would claim a proof that no longer runs; this keeps the
table honest. Names may be a file (every test in it), ``file::name``, ``file::name[case]`` or
``file::prefix_*``; a row may continue with ``::other_name`` for more tests of the same file.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "RELIABILITY.md"
_CELL = re.compile(r"`([^`]+)`")
_FILE = re.compile(r"^(tests/[\w/]+\.py)(?:::(\w+\*?))?")
_MORE = re.compile(r"^::(\w+\*?)")


def _named_tests() -> list[tuple[str, str | None]]:
    """(file, test name or None) for every test the table's last column names."""
    named: list[tuple[str, str | None]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith("| fault") or line.count("|") < 4:
            continue
        last = line.rstrip().rstrip("|").rsplit("|", 1)[-1]
        current: str | None = None
        for cell in _CELL.findall(last):
            cell = re.sub(r"\[.*?\]", "", cell)
            found = _FILE.match(cell)
            if found:
                current = found.group(1)
                named.append((current, found.group(2)))
            elif current is not None and (more := _MORE.match(cell)):
                named.append((current, more.group(1)))
    return named


def test_every_test_the_reliability_table_names_exists() -> None:
    """Every file and test function docs/RELIABILITY.md cites is in the repository (so each row's proof still runs)."""
    named = _named_tests()
    assert len(named) >= 100  # the table is there and was read
    missing = []
    for file, name in named:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
            continue
        if name is None:
            continue
        source = path.read_text(encoding="utf-8")
        ending = "" if name.endswith("*") else r"\("  # a prefix, or the whole name
        pattern = "def " + re.escape(name.rstrip("*")) + ending
        if not re.search(pattern, source):
            missing.append(f"{file}::{name}")
    assert missing == []


def _fault_rows() -> int:
    """The rows of every '| fault | what happens | test |' table."""
    rows, in_table = 0, False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| fault | what happens | test |"):
            in_table = True
        elif in_table and line.startswith("| ") and not line.startswith("|---"):
            rows += 1
        elif not line.startswith("|"):
            in_table = False
    return rows


def test_the_totals_count_the_faults_the_tables_list() -> None:
    """The totals table's 'faults in this table' is the number of fault rows (merged branches each added rows)."""
    stated = re.search(r"^\| faults in this table \| (\d+) \|", DOC.read_text(encoding="utf-8"), flags=re.M)
    assert stated is not None
    assert int(stated.group(1)) == _fault_rows()
