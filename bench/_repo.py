"""Put this checkout first on ``sys.path``: a benchmark measures the tree it is in, not an installed copy.

Imported (for that effect alone) by every bench module before anything from ``shippers`` or
``adapters``; the spawned far ends inherit the path.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
