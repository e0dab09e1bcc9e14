"""examples/grafana/authlog.json and examples/prometheus/alerts.yml use only metric names a real sidecar's /metrics exposes, and are well formed."""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cli"))
from live_sidecar import LiveSidecar, free_port, write_config  # noqa: E402

DASHBOARD = ROOT / "examples" / "grafana" / "authlog.json"
ALERTS = ROOT / "examples" / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\bauthlog_[a-z_]+\b")
# The sample names each metric type exposes (a family with no labelled child yet shows only its HELP/TYPE lines).
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("_sum", "_count", "_created")}
# What the alerts must cover (issue 14): a failing sink, a backlog growing for 10 minutes, a DLQ not empty, a store near full.
REQUIRED_ALERTS = {"AuthlogSinkFailing", "AuthlogBacklogGrowing", "AuthlogDeadLettersPresent", "AuthlogStoreNearFull"}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name a real sidecar's /metrics exposes after ingest, a rejection, deliveries and a few requests."""
    folder = tmp_path_factory.mktemp("dashboards")
    port = free_port()
    with LiveSidecar(write_config(folder, port), port) as sidecar:
        client = sidecar.client()
        client.send_lines([b'{"id": "d-1", "type": "login.completed"}', b'{"type": "not.a.type"}'])
        sidecar.wait_caught_up("local", expected_delivered=1)
        with urllib.request.urlopen(f"{sidecar.url}/metrics", timeout=10) as response:
            text = response.read().decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def dashboard_exprs() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in document["panels"] for target in panel["targets"]]
    exprs += [v["definition"] for v in document["templating"]["list"] if v.get("definition")]
    return exprs


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_every_metric_the_dashboard_queries_is_exposed(exposed: set[str]) -> None:
    """Each authlog_* name in a panel's query or a variable's definition is a sample name of the live /metrics."""
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert used, "the dashboard queries no authlog metric"
    assert used - exposed == set()
    # what the issue asks the dashboard to show
    for needed in ("authlog_events_received_total", "authlog_sink_delivered_total", "authlog_sink_lag_events",
                   "authlog_sink_dlq_events", "authlog_sink_retries_total", "authlog_events_rejected_total",
                   "authlog_http_request_duration_seconds_bucket"):
        assert needed in used, needed


def test_every_metric_an_alert_uses_is_exposed(exposed: set[str]) -> None:
    """Each alert's expression names only exposed metrics, and the four alerts the issue asks for are there."""
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= REQUIRED_ALERTS
    for rule in rules:
        used = set(METRIC.findall(rule["expr"]))
        assert used and used - exposed == set(), (rule["alert"], used - exposed)


def test_the_alert_rules_are_well_formed() -> None:
    """Every rule has a unique name, a `for`, a severity and a summary; parentheses and braces balance in each expression."""
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        for opening, closing in ("()", "[]", "{}"):
            assert rule["expr"].count(opening) == rule["expr"].count(closing), rule["alert"]
    growing = next(rule for rule in rules if rule["alert"] == "AuthlogBacklogGrowing")
    assert "[10m]" in growing["expr"] and growing["for"] == "10m"


def test_the_dashboard_is_a_grafana_model_with_a_datasource_variable() -> None:
    """Panels have unique ids, a query each, the ${datasource} variable, and do not overlap on the 24-column grid."""
    document = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    panels = document["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
