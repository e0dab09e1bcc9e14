"""Route filters: ``taken`` keeps exactly the rows ``takes`` keeps, in order, for the default route and filtering ones."""

from __future__ import annotations

import pytest

from shippers.buffer.records import StoredRow
from shippers.config import RouteConfig
from shippers.routing import Route

ROWS = [
    StoredRow(1, 0.0, "login.completed", "success", "t-1", None, b"{}"),
    StoredRow(2, 0.0, "login.failed", "failure", "t-2", None, b"{}"),
    StoredRow(3, 0.0, "login.completed", "success", None, "archive", b"{}"),  # a DLQ replay for this sink
    StoredRow(4, 0.0, "login.completed", "success", "t-1", "other", b"{}"),  # a replay for another sink
    StoredRow(5, 0.0, "user.locked", "failure", "t-1", None, b"{}"),
]


@pytest.mark.parametrize(
    ("config", "seqs"),
    [
        (RouteConfig(), [1, 2, 3, 5]),
        (RouteConfig(types=["login.*"]), [1, 2, 3]),
        (RouteConfig(outcomes=["failure"]), [2, 3, 5]),
        (RouteConfig(tenants=["t-1"]), [1, 3, 5]),
    ],
    ids=["takes everything", "types", "outcomes", "tenants"],
)
def test_taken_keeps_what_takes_keeps_in_order(config: RouteConfig, seqs: list[int]) -> None:
    """The batch filter and the per-row one agree, replays for another sink are left out and this sink's are kept."""
    route = Route("archive", config)
    assert [r.seq for r in route.taken(ROWS)] == [r.seq for r in ROWS if route.takes(r)] == seqs
