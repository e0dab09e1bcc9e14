"""The core install stays small: no framework is imported by the core, nor by the integration's framework-free parts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
FRAMEWORKS = ("django", "flask", "flask_login", "fastapi", "starlette")
FRAMEWORK_MODULES = {"django", "flask.py", "starlette.py", "fastapi.py"}  # under shippers/contrib
_IMPORT = re.compile(rf"^\s*(?:from|import)\s+({'|'.join(FRAMEWORKS)})\b", re.MULTILINE)


def test_no_framework_import_outside_the_framework_modules() -> None:
    """Only shippers/contrib/django/, flask.py, starlette.py and fastapi.py import a framework."""
    offenders = []
    for path in [*(ROOT / "shippers").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]:
        relative = path.relative_to(ROOT / "shippers") if path.is_relative_to(ROOT / "shippers") else None
        if relative is not None and relative.parts[0] == "contrib" and len(relative.parts) > 1 and relative.parts[1] in FRAMEWORK_MODULES:
            continue
        if _IMPORT.search(path.read_text("utf-8")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_importing_the_core_and_the_helpers_loads_no_framework() -> None:
    """A process importing the core, the CLI and the integration's helpers has no framework in sys.modules."""
    code = ("import sys, shippers, shippers.api, shippers.client, shippers.cli.main, shippers.contrib.helpers, "
            "shippers.contrib.gunicorn; print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))")
    out = subprocess.run([sys.executable, "-c", code, *FRAMEWORKS], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip() == "[]"
