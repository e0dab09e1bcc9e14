"""The chaos tests start real ``authlog run`` children with the suite's helper in tests/cli."""

from __future__ import annotations

import sys
from pathlib import Path

# Why: live_sidecar.py (the child-process helper) lives with the CLI tests; one copy for the suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
