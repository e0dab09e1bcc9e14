"""Query parameters of the sidecar's routes: which each route takes, and the checks every value passes.

Every route states the parameters it takes in :data:`ROUTE_PARAMETERS` (a route not listed
takes none). :func:`check_query` refuses, as a 400 that names the parameter,

- a parameter the route does not take (``?limt=5`` is a typo, not a request for the default),
- a parameter given more than once (``limit=1&limit=2`` is ambiguous),
- a query string that is not UTF-8 once percent-decoded.

Values are then read by the typed helpers here (:func:`whole_number`), which accept ASCII
digits only: ``str.isdigit()`` also accepts ``²`` or ``١``, which ``int()`` then refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Why: the one place that says which parameters exist; README's "Ingest API" lists the same.
ROUTE_PARAMETERS: Mapping[str, frozenset[str]] = {
    "/v1/dlq": frozenset({"sink", "limit"}),
}
# Why: a name echoed in an error is cut so a client cannot make the answer (or a log) large.
MAX_ECHOED_CHARS = 40
# Why: ASCII digits only, and few of them: int() of a 4,300-digit string is refused by CPython anyway.
_ASCII_WHOLE = re.compile(r"[0-9]{1,9}")


class QueryError(Exception):
    """A query parameter is wrong; ``message`` names it and says what to send (a 400)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def echo(text: str) -> str:
    """``text`` safe to quote in an answer: cut, and printable."""
    cut = text[:MAX_ECHOED_CHARS] + ("…" if len(text) > MAX_ECHOED_CHARS else "")
    return cut.encode("unicode_escape").decode("ascii")


def check_query(route: str, names: list[str]) -> None:
    """Raise :class:`QueryError` for an unknown or repeated parameter of ``route`` (its canonical path)."""
    allowed = ROUTE_PARAMETERS.get(route, frozenset())
    seen: set[str] = set()
    for name in names:
        if name not in allowed:
            takes = f"it takes {', '.join(sorted(allowed))}" if allowed else "it takes no query parameters"
            raise QueryError(f"unknown query parameter '{echo(name)}' on {route}; {takes}")
        if name in seen:
            raise QueryError(f"query parameter '{name}' is given more than once; send it once")
        seen.add(name)


def whole_number(name: str, raw: str, low: int, high: int) -> int:
    """``raw`` as an int in ``low..high`` written in ASCII digits, else a :class:`QueryError` naming ``name``."""
    if not _ASCII_WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
        raise QueryError(f"query parameter '{name}' must be a whole number from {low} to {high} in digits 0-9, not '{echo(raw)}'")
    return int(raw)
