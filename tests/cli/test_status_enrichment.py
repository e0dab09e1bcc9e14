"""`authlog status` and /metrics of a real sidecar show the look-ups its ingest process could not make, by look-up."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from live_sidecar import LiveSidecar, free_port, write_config

from shippers.cli.main import cli
from shippers.cli.run_cmds import enrichment_line
from shippers.testing.geo_databases import (
    TEST_NETWORKS,
    TEST_PLACES,
    damage_records,
    write_asn_database,
    write_city_database,
)

# Known to both test databases (RFC 5737): its City record is the damaged one, its AS record reads.
KNOWN_IP = "203.0.113.7"


def test_a_damaged_city_database_shows_as_geo_failures_in_status_table_json_and_metrics(tmp_path: Path) -> None:
    """Events whose City record cannot be read are stored, and the sidecar (ingest process) counts each under geo: the
    status table's line, --json and /metrics agree, and the address appears in none of them."""
    city = damage_records(write_city_database(tmp_path / "city.mmdb", TEST_PLACES))
    asn = write_asn_database(tmp_path / "asn.mmdb", TEST_NETWORKS)
    port = free_port()
    config = write_config(tmp_path, port, extra=f'\n[enrich]\ngeoip_db = "{city}"\nasn_db = "{asn}"\n')
    runner = CliRunner()
    with LiveSidecar(config, port) as sidecar:
        before = runner.invoke(cli, ["status", "-c", str(config)])
        result = sidecar.client().send([{"type": "login.completed", "userId": f"u{i}", "ip": KNOWN_IP} for i in range(5)])
        assert result.accepted == 5
        sidecar.wait_caught_up("local", expected_delivered=5)
        table = runner.invoke(cli, ["status", "-c", str(config)])
        document = json.loads(runner.invoke(cli, ["status", "-c", str(config), "--json"]).output)
        with urllib.request.urlopen(f"{sidecar.url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    assert before.exit_code == 0 and "enrichment failures" not in before.output  # nothing failed yet: no line
    assert table.exit_code == 0, table.output
    assert "enrichment failures: geo 5, asn 0" in table.output
    assert document["enrichmentFailures"] == {"geo": 5, "asn": 0}
    assert 'authlog_enrichment_failures_total{lookup="geo"} 5.0' in metrics
    assert 'authlog_enrichment_failures_total{lookup="asn"} 0.0' in metrics
    assert KNOWN_IP not in table.output and KNOWN_IP not in metrics


def test_the_line_under_the_table_waits_for_a_first_failure() -> None:
    """No line without [enrich] or with every count 0; once one fails, every look-up is listed with its count."""
    assert enrichment_line({}) is None
    assert enrichment_line({"enrichmentFailures": {"geo": 0, "user_agent": 0}}) is None
    line = enrichment_line({"enrichmentFailures": {"geo": 0, "user_agent": 1234}})
    assert line is not None and line.startswith("enrichment failures: geo 0, user_agent 1,234 ")
