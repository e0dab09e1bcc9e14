"""Recompute the digests of tests/data/mapping_bytes.jsonl with the code on PYTHONPATH (its events are kept as they are).

Run it with the tree whose output is the reference, e.g. after a deliberate mapping change, from this tree::

    PYTHONPATH=$PWD python tests/data/make_mapping_bytes.py

(the pinned digests came from def3015: ``git archive def3015 | tar -x -C /tmp/base`` and ``PYTHONPATH=/tmp/base``,
running this file and the test module from this tree).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).parent
TEST = HERE.parent / "adapters" / "test_mapping_bytes.py"


def main() -> None:
    spec = importlib.util.spec_from_file_location("test_mapping_bytes", TEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.pinned()
    mappers = {sink: module.mapper(sink) for sink in module.SINKS}
    lines = []
    for seq, row in enumerate(rows, 1):
        line = row["event"].encode()
        items = {sink: module.digest(mapper, seq, line) for sink, mapper in mappers.items()}
        lines.append(json.dumps({"event": row["event"], "items": items}) + "\n")
    module.GOLDEN.write_text("".join(lines), "ascii")


if __name__ == "__main__":
    main()
