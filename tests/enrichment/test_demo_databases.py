"""The demo's shipped MaxMind databases: labelled demo data, covering every sample address, rebuilt by the script."""

from __future__ import annotations

from pathlib import Path

import maxminddb

from shippers import data
from shippers.samples import sample_events
from shippers.testing.geo_databases import DEMO_LABEL, write_demo_databases


def _answers(city: Path, asn: Path, addresses: list[str]) -> list[tuple[object, object]]:
    with maxminddb.open_database(str(city)) as c, maxminddb.open_database(str(asn)) as a:
        return [(c.get(ip), a.get(ip)) for ip in addresses]


def test_the_shipped_databases_say_they_are_demo_data() -> None:
    """Both files carry the demo-data label in their metadata and a demo database type."""
    for name in (data.DEMO_CITY_FILE, data.DEMO_ASN_FILE):
        with maxminddb.open_database(str(data.FOLDER / name)) as reader:
            meta = reader.metadata()
            assert meta.description["en"] == DEMO_LABEL and meta.database_type.startswith("authlog-demo-")


def test_every_sample_address_is_placed_in_a_city_with_an_as() -> None:
    """The demo's samples (IPv4 and IPv6) all get a city and an AS, so `authlog demo` shows geo in every destination."""
    addresses = sorted({event["ip"] for event in sample_events(500, seed=1)})
    assert any(":" in ip for ip in addresses) and any("." in ip for ip in addresses)
    for city, system in _answers(data.FOLDER / data.DEMO_CITY_FILE, data.FOLDER / data.DEMO_ASN_FILE, addresses):
        assert city["city"]["names"]["en"] and system["autonomous_system_number"]  # type: ignore[index]


def test_the_script_rebuilds_what_is_shipped(tmp_path: Path) -> None:
    """`python -m shippers.testing.geo_databases` writes databases answering exactly as the shipped ones do."""
    city, asn = write_demo_databases(tmp_path)
    addresses = ["203.0.113.1", "203.0.113.200", "2001:db8::1", "2001:db8:ffff::1", "192.0.2.1", "2001:db9::1"]
    assert _answers(city, asn, addresses) == _answers(data.FOLDER / data.DEMO_CITY_FILE, data.FOLDER / data.DEMO_ASN_FILE, addresses)
