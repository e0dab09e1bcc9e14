"""bench/peers: the peers' configurations for one endpoint and for a fan-out, and how a fan-out run is judged."""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # _measure, endpoints: as run.py sees them
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "peers"))  # _configs, _peer, _table

import _configs
from _peer import Result
from _table import table
from endpoints.tally import Counted

PORTS = [9201, 9202, 9203, 9204]
EVENTS = 10


def _result(*counted: Counted) -> Result:
    return Result("rsyslog", EVENTS, 1.0, 0.5, 1 << 20, 1, counted)


def test_one_destination_keeps_its_single_name_and_several_are_numbered() -> None:
    """A single endpoint's destination keeps the plain name; a fan-out's are prefix1..prefixN."""
    assert _configs.destination_names("es", 1) == ["es"]
    assert _configs.destination_names("es", 4) == ["es1", "es2", "es3", "es4"]


def test_rsyslog_fanout_has_one_bulk_action_per_port_each_with_its_own_error_file() -> None:
    """rsyslog gets one omelasticsearch action per endpoint, each port once, each with its own name and errorFile."""
    conf = _configs.rsyslog_conf(Path("/work"), Path("/work/in/events.ndjson"), PORTS)
    actions = re.findall(r'action\(type="omelasticsearch" name="(\w+)" server="127.0.0.1" serverport="(\d+)"', conf)
    assert actions == [(f"es{n}", str(port)) for n, port in enumerate(PORTS, 1)]
    assert sorted(re.findall(r'errorFile="/work/(\w+)-errors.log"', conf)) == ["es1", "es2", "es3", "es4"]
    assert conf.count('action(type="mmjsonparse"') == 1  # parsed once, sent four times


def test_rsyslog_single_endpoint_has_one_bulk_action() -> None:
    """The default run still gives rsyslog exactly one omelasticsearch action, into its one endpoint."""
    conf = _configs.rsyslog_conf(Path("/work"), Path("/work/in/events.ndjson"), [9200])
    assert re.findall(r'serverport="(\d+)"', conf) == ["9200"]
    assert 'errorFile="/work/es-errors.log"' in conf


def test_syslog_ng_fanout_sends_one_log_path_to_every_http_destination() -> None:
    """syslog-ng gets one http() destination per endpoint, and its one log path names each of them once."""
    conf = _configs.syslog_ng_conf(Path("/work/in"), PORTS)
    declared = re.findall(r'destination (\w+) \{\s*http\(url\("http://127.0.0.1:(\d+)/_bulk"\)', conf)
    assert declared == [(f"d_bulk{n}", str(port)) for n, port in enumerate(PORTS, 1)]
    (path,) = re.findall(r"^log \{.*\};$", conf, re.MULTILINE)
    assert re.findall(r"destination\((\w+)\);", path) == ["d_bulk1", "d_bulk2", "d_bulk3", "d_bulk4"]


def test_syslog_ng_single_endpoint_keeps_d_bulk() -> None:
    """The default run's syslog-ng config has the one destination d_bulk, used by the log path."""
    conf = _configs.syslog_ng_conf(Path("/work/in"), [9200])
    assert re.findall(r"destination\((\w+)\);", conf) == ["d_bulk"]
    assert conf.count("http(url(") == 1


def test_authlog_fanout_is_four_default_elasticsearch_sinks() -> None:
    """authlog's fan-out is [sinks.es1]..[sinks.es4], each with only type, hosts (its own endpoint) and index."""
    urls = [f"http://127.0.0.1:{port}" for port in PORTS]
    sinks = tomllib.loads(_configs.authlog_sinks(urls))["sinks"]
    assert list(sinks) == ["es1", "es2", "es3", "es4"]
    assert [sink["hosts"] for sink in sinks.values()] == [[url] for url in urls]
    assert all(set(sink) == {"type", "hosts", "index"} and sink["type"] == "elasticsearch" for sink in sinks.values())


def test_authlog_single_endpoint_is_the_one_es_sink() -> None:
    """The default run's authlog config is the one [sinks.es] it always was."""
    assert list(tomllib.loads(_configs.authlog_sinks(["http://127.0.0.1:9200"]))["sinks"]) == ["es"]


def test_a_fanout_run_short_of_one_copy_at_one_endpoint_is_not_exactly_once() -> None:
    """A run counts as exactly once only when every endpoint holds each event once."""
    whole, doubled = Counted(EVENTS, EVENTS, 0, 1), Counted(EVENTS + 1, EVENTS, 0, 2)
    assert _result(whole, whole, whole, whole).exactly_once
    assert not _result(whole, whole, doubled, whole).exactly_once
    rows = table([_result(whole, whole, doubled, whole)], ["rsyslog"], {}, endpoints=4).splitlines()
    assert "events/s into all 4" in rows[0]
    assert "| 0/1 |" in rows[2]


def test_the_table_notes_what_the_endpoints_and_the_rest_of_the_machine_took() -> None:
    """Under the table: the endpoints' CPU per 100k events and the cores other processes kept busy, per peer."""
    run = replace(_result(Counted(EVENTS, EVENTS, 0, 1)), far_cpu=0.0001, others_cpu=0.25)  # 1.0 s/100k; 0.25 of 1 s
    footer = table([run], ["rsyslog"], {}).splitlines()[-3:-1]
    assert footer == ["the endpoint's CPU s per 100k events (not the peer's; median): rsyslog 1.00",
                      "other processes on the machine during the runs, cores busy (median): rsyslog 0.25"]  # fmt: skip


def test_the_bound_is_the_cores_over_the_peers_and_endpoints_cpu_per_event() -> None:
    """At 5 CPU s per 100k events (peer 4, endpoints 1), 2 idle cores bound a peer at 40,000 events/s."""
    run = replace(_result(Counted(EVENTS, EVENTS, 0, 1)), cpu=0.0004, far_cpu=0.0001)
    assert run.bound(2) == pytest.approx(40_000)
    assert table([run], ["rsyslog"], {}, cores=2).splitlines()[-1].endswith("rsyslog 40,000")


def test_a_run_line_names_the_endpoint_that_differs() -> None:
    """Endpoints that stored the same are summed up in one phrase; one that stored a copy twice is shown on its own."""
    whole, doubled = Counted(EVENTS, EVENTS, 0, 1), Counted(EVENTS + 1, EVENTS, 0, 2)
    assert _result(whole, Counted(EVENTS, EVENTS, 0, 2)).stored().startswith("each of 2 endpoints:")
    assert f"endpoint 2: {doubled.line()}" in _result(whole, doubled).stored()
