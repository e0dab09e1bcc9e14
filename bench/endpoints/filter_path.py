"""Elasticsearch's ``filter_path`` response filtering, the subset clients send (pure).

A real cluster honours ``?filter_path=errors,items.*.status,items.*.error`` (what our adapter
asks for, as Logstash does): the answer keeps only those keys, so both ends parse less. A
counting endpoint that ignored it would make the shipper parse a longer answer than a real
cluster sends, and the figure would be wrong the other way.

Supported: comma-separated dotted patterns; a segment may hold ``*`` wildcards (``items.*.st*``);
arrays are transparent (a pattern applies to each element); a pattern that ends keeps the whole
value under it; nothing left is ``{}``. Not supported (nobody we measure sends them): ``**`` and
``-`` exclusions; such a filter is ignored (the answer is sent whole) rather than guessed at.

Fast path: the patterns compile to a tree of :class:`_Node`; each node remembers, per tuple of
keys it has seen (a bulk answer has 1000 items of the same shape), which keys to keep and the
node below each, so an item costs two dict look-ups, not a pattern match per key.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

_DROPPED = object()  # nothing under this value matched
# Why: a node remembers the key tuples it has seen; answers have a handful of shapes, so this
# bound is never reached in a run, it only keeps an unusual answer (keys that are ids) small.
MAX_SHAPES_PER_NODE = 1_000


class _Node:
    """The patterns that continue at one depth; ``keep_all`` when one of them ended here."""

    __slots__ = ("keep_all", "patterns", "_shapes", "_children")

    def __init__(self, patterns: tuple[tuple[str, ...], ...]) -> None:
        self.keep_all = any(not p for p in patterns)
        self.patterns = patterns
        self._shapes: dict[tuple[str, ...], list[tuple[str, _Node]]] = {}
        self._children: dict[str, _Node | None] = {}

    def child(self, key: str) -> _Node | None:
        if key not in self._children:
            below = tuple(p[1:] for p in self.patterns if fnmatchcase(key, p[0]))
            self._children[key] = _Node(below) if below else None
        return self._children[key]

    def visits(self, keys: tuple[str, ...]) -> list[tuple[str, _Node]]:
        """The (key, node below) pairs worth visiting in a dict with these keys."""
        found = self._shapes.get(keys)
        if found is None:
            found = [(key, node) for key in keys if (node := self.child(key)) is not None]
            if len(self._shapes) >= MAX_SHAPES_PER_NODE:
                self._shapes.clear()
            self._shapes[keys] = found
        return found

    def apply(self, value: Any) -> Any:
        if self.keep_all:
            return value
        if isinstance(value, list):
            kept, last, last_kept = [], _DROPPED, _DROPPED
            for element in value:
                if element is not last:  # a list of one shared object is filtered once
                    last, last_kept = element, self.apply(element)
                if last_kept is not _DROPPED:
                    kept.append(last_kept)
            return kept if kept else _DROPPED
        if isinstance(value, dict):
            out = {}
            for key, node in self.visits(tuple(value)):
                sub = value[key]
                kept = sub if node.keep_all else node.apply(sub)
                if kept is not _DROPPED:
                    out[key] = kept
            return out if out else _DROPPED
        return _DROPPED  # a scalar, with patterns still asking for keys below it


@lru_cache(maxsize=64)
def compile_filter(spec: str | None) -> _Node | None:
    """The tree of a ``filter_path`` value; None to answer in full (absent, empty, or unsupported)."""
    if not spec:
        return None
    patterns = tuple(tuple(part.split(".")) for part in spec.split(",") if part)
    if not patterns or any(p.startswith("-") or "**" in p for pattern in patterns for p in pattern):
        return None
    return _Node(patterns)


def filtered(answer: dict[str, Any], tree: _Node | None) -> dict[str, Any]:
    """``answer`` with only what ``tree`` selects (all of it for None)."""
    if tree is None:
        return answer
    kept = tree.apply(answer)
    return {} if kept is _DROPPED else kept
