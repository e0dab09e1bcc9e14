"""The shape the reshaped core relies on: no adapter re-implements the generic part of classification.

Status classes (408/429/5xx retry, 2xx/3xx/4xx ranges), Retry-After and its parsing belong to
``shippers/delivery/classify.py``; an adapter classifies only its vendor's own codes. The scan
reads each adapter module's code (docstrings and comments may describe the table they take part in).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTER_MODULES = sorted((ROOT / "adapters").rglob("*.py"))
# Why: the statuses the common classifier retries; an adapter naming one is deciding a status class.
GENERIC_STATUSES = frozenset({408, 429, 502, 503, 504})  # (500 is also a length; its comparisons are caught below)
# Why: the bounds of status classes (200 <= s < 300, s >= 500...); comparing against one is a class test.
CLASS_BOUNDS = frozenset({100, 200, 299, 300, 399, 400, 499, 500, 599, 600})
FORBIDDEN_NAMES = frozenset({"parse_retry_after", "retry_after_header"})
WHERE = "shippers/delivery/classify.py owns it; classify only the vendor's own codes (VendorRules)"


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def generic_parts(source: str, name: str = "<source>") -> list[str]:
    """Every place in ``source`` that does the generic part of classification, as "file:line: what"."""
    tree = ast.parse(source, name)
    docstrings = _docstrings(tree)
    problems: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in GENERIC_STATUSES:
            problems.append(f"{name}:{line}: names the generic status {node.value}; {WHERE}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if "retry-after" in node.value.lower():
                problems.append(f"{name}:{line}: reads the Retry-After header itself; {WHERE}")
        elif isinstance(node, ast.Compare):
            bounds = [c.value for c in (node.left, *node.comparators) if isinstance(c, ast.Constant) and type(c.value) is int]
            if any(b in CLASS_BOUNDS for b in bounds) and any(isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE) for op in node.ops):
                problems.append(f"{name}:{line}: tests a status class ({ast.unparse(node)}); {WHERE}")
        elif isinstance(node, ast.Name | ast.alias | ast.Attribute):
            named = node.id if isinstance(node, ast.Name) else node.name if isinstance(node, ast.alias) else node.attr
            if named.split(".")[-1] in FORBIDDEN_NAMES:
                problems.append(f"{name}:{line}: parses Retry-After itself ({named}); {WHERE}")
    return problems


@pytest.mark.parametrize("path", ADAPTER_MODULES, ids=[str(p.relative_to(ROOT)) for p in ADAPTER_MODULES])
def test_no_adapter_does_the_generic_part_of_classification(path: Path) -> None:
    """This adapter module names no generic status, tests no status class and reads no Retry-After itself."""
    problems = generic_parts(path.read_text("utf-8"), str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("code", "what"),
    [
        ("if status in (429, 503):\n    pass\n", "generic status 429"),
        ("ok = 200 <= status < 300\n", "tests a status class"),
        ("retry = status >= 500\n", "tests a status class"),
        ("from shippers.retry_after import parse_retry_after\n", "parses Retry-After itself"),
        ("wait = headers.get('Retry-After')\n", "reads the Retry-After header"),
    ],
)
def test_the_scan_finds_what_it_forbids(code: str, what: str) -> None:
    """The scan flags each kind of generic classification it forbids (so the test above can fail)."""
    assert any(what in problem for problem in generic_parts(code))


def test_the_scan_leaves_vendor_codes_and_docstrings_alone() -> None:
    """A vendor's own status (Datadog's 202, S3's 412) and a docstring table naming 429 are not flagged."""
    code = '"""Table:\n\n    429 -> retry (the core)\n"""\nACCEPTED = 202\nif status == 412:\n    pass\n'
    assert generic_parts(code) == []
