"""Per-sink route filters: which events a sink takes (``types`` globs, ``outcomes``, ``tenants``)."""

from __future__ import annotations

import fnmatch
import re

from shippers.buffer import StoredRow
from shippers.config import RouteConfig


def route_text(config: RouteConfig) -> str:
    """The route as canonical text (sorted, "*" for every type): equal for routes that take the same events as
    written, so the members of a fleet can check they route a sink alike."""
    types = sorted(set(config.types or ["*"]))
    parts = {"types": ["*"] if "*" in types else types, "outcomes": sorted(set(config.outcomes)),
             "tenants": sorted(set(config.tenants))}
    return ";".join(f"{key}={','.join(values)}" for key, values in parts.items())


class Route:
    """Decides from a stored row's routing columns alone, without decoding the event."""

    def __init__(self, sink: str, config: RouteConfig) -> None:
        self.sink = sink
        patterns = config.types or ["*"]
        self._all_types = "*" in patterns
        self._types = re.compile("|".join(fnmatch.translate(p) for p in patterns))
        self._outcomes = frozenset(config.outcomes)
        self._tenants = frozenset(config.tenants)

    def taken(self, rows: list[StoredRow]) -> list[StoredRow]:
        """The rows this route takes, in order: ``takes`` for each, without a call per row when the route takes every
        type, outcome and tenant (the default: then only a DLQ replay's ``only_sink`` can leave a row out)."""
        if self._all_types and not self._outcomes and not self._tenants:
            sink = self.sink
            return [row for row in rows if row.only_sink is None or row.only_sink == sink]
        takes = self.takes
        return [row for row in rows if takes(row)]

    def takes(self, row: StoredRow) -> bool:
        if row.only_sink is not None:
            return row.only_sink == self.sink  # a DLQ replay is for one sink only
        if self._outcomes and row.outcome not in self._outcomes:
            return False
        if self._tenants and row.tenant not in self._tenants:
            return False
        return self._all_types or self._types.match(row.type) is not None
