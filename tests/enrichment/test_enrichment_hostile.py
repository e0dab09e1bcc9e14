"""Enrichment under hostile input and unlucky operators: huge user agents, mapped addresses, a database rewritten in place."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shippers.enrichment.enricher import MAX_PARSED_USER_AGENT_CHARS, Enricher
from shippers.enrichment.model import UserAgent

CHROME_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def test_the_parser_sees_at_most_the_first_chars_of_a_huge_user_agent() -> None:
    """A 2,048-char user agent reaches the parser cut to its first MAX_PARSED_USER_AGENT_CHARS (its cost is bounded)."""
    seen: list[str] = []

    def parse(text: str) -> UserAgent | None:
        seen.append(text)
        return UserAgent(name="X")

    enricher = Enricher(user_agent=parse)
    hostile = "Mozilla/5.0 (compatible; " + "x" * 2000 + "spider"
    assert enricher(None, hostile) is not None
    assert seen == [hostile[:MAX_PARSED_USER_AGENT_CHARS]]
    assert len(CHROME_MAC) < MAX_PARSED_USER_AGENT_CHARS < len(hostile)


def test_user_agents_differing_only_past_the_cut_share_one_parse() -> None:
    """Tails past the cut cannot defeat the cache: 100 user agents with the same head cost one parse."""
    calls: list[str] = []

    def parse(text: str) -> UserAgent | None:
        calls.append(text)
        return None

    enricher = Enricher(user_agent=parse)
    head = CHROME_MAC + " " * MAX_PARSED_USER_AGENT_CHARS
    for n in range(100):
        enricher(None, head + str(n))
    assert len(calls) == 1


def test_a_long_real_user_agent_still_parses() -> None:
    """A real browser's user agent padded past the cut with junk still reads as that browser (the real parser)."""
    from shippers.config import EnrichConfig
    from shippers.enrichment.enricher import build_enricher

    enricher = build_enricher(EnrichConfig(user_agent=True))
    assert enricher is not None
    enrichment = enricher(None, CHROME_MAC + " ;" * 1000)
    assert enrichment is not None and enrichment.userAgent is not None
    assert enrichment.userAgent.name == "Chrome" and enrichment.userAgent.version == "120.0.0"


def test_an_ipv4_mapped_ipv6_address_gets_its_ipv4_geo(enrich_dbs: dict[str, str]) -> None:
    """::ffff:203.0.113.7 (a dual-stack socket's view of an IPv4 client) is looked up as 203.0.113.7."""
    from shippers.config import EnrichConfig, FilePath
    from shippers.enrichment.enricher import build_enricher

    enricher = build_enricher(EnrichConfig(geoip_db=FilePath(enrich_dbs["geoip_db"]), asn_db=FilePath(enrich_dbs["asn_db"])))
    assert enricher is not None
    mapped, plain = enricher("::ffff:203.0.113.7", None), enricher("203.0.113.7", None)
    assert plain is not None and plain.geo is not None and plain.as_ is not None
    assert mapped == plain


_REWRITE_WHILE_RUNNING = textwrap.dedent("""
    import os, sys
    if sys.argv[3] == "no-memfd":  # a platform without memfd_create (macOS): the pure-Python reader's copy
        del os.memfd_create
    from shippers.config import EnrichConfig, FilePath
    from shippers.enrichment.enricher import build_enricher
    city, asn = sys.argv[1], sys.argv[2]
    enricher = build_enricher(EnrichConfig(geoip_db=FilePath(city), asn_db=FilePath(asn)))
    before = enricher("203.0.113.7", None)
    for path in (city, asn):
        with open(path, "r+b") as f:  # what `cp new.mmdb old.mmdb` or `curl -o` does first: truncate in place
            f.truncate(0)
    after = enricher("203.0.113.9", None)
    print(before.geo.cityName, after.geo.cityName, after.as_.number)
""")


@pytest.mark.parametrize("platform", ["memfd", "no-memfd"])
def test_a_database_truncated_in_place_while_running_does_not_crash_the_process(
    tmp_path: Path, enrich_dbs: dict[str, str], platform: str
) -> None:
    """Truncating the databases under a running enricher (cp over them) costs nothing: no SIGBUS, the loaded data answers."""
    city, asn = tmp_path / "city.mmdb", tmp_path / "asn.mmdb"
    city.write_bytes(Path(enrich_dbs["geoip_db"]).read_bytes())
    asn.write_bytes(Path(enrich_dbs["asn_db"]).read_bytes())
    done = subprocess.run([sys.executable, "-c", _REWRITE_WHILE_RUNNING, str(city), str(asn), platform],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["Berlin", "Berlin", "64500"]


@pytest.mark.parametrize("where", [
    {"latitude": float("nan"), "longitude": 13.4}, {"latitude": 52.5, "longitude": float("inf")},
    {"latitude": 95.0, "longitude": 13.4}, {"latitude": 52.5, "longitude": -181.0}, {"latitude": True, "longitude": 13.4},
    {"latitude": "52.5", "longitude": "13.4"},
])
def test_odd_coordinates_are_left_out_and_the_stored_line_still_decodes(where: dict[str, object]) -> None:
    """A NaN, infinite, out-of-range or non-numeric coordinate is left out: the line decodes (NaN would be stored as null)."""
    from shippers.catalog import builtin_catalog
    from shippers.enrichment.databases import geo_from_record
    from shippers.event import EventValidator, decode_event, encode_event

    geo = geo_from_record({"country": {"iso_code": "DE"}, "location": {**where, "time_zone": "Europe/Berlin"}})
    assert geo is not None and geo.location is None and geo.countryIsoCode == "DE" and geo.timezone == "Europe/Berlin"
    validator = EventValidator(builtin_catalog(), enricher=Enricher(geo=lambda ip: geo))
    event = validator.from_fields({"type": "login.completed", "ip": "203.0.113.7"})
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize("record", [
    {"country": "DE", "city": {"names": {"en": "Berlin"}}},
    {"postal": "10115", "city": {"names": {"en": "Berlin"}}},
    {"location": [52.5, 13.4], "city": {"names": {"en": "Berlin"}}},
    {"subdivisions": [None], "continent": ["EU"], "city": {"names": {"en": "Berlin"}}},
    {"city": {"names": {"en": "Berlin", "de": 3}}, "country": {"names": {"en": 7}}},
])
def test_a_record_of_another_layout_keeps_what_it_has_of_ours(record: dict[str, object]) -> None:
    """Objects where strings are, or strings where objects are (another vendor's layout): the rest is kept, nothing raises."""
    from shippers.enrichment.databases import geo_from_record

    geo = geo_from_record(record)
    assert geo is not None and geo.cityName == "Berlin" and geo.countryIsoCode is None and geo.countryName is None


def test_an_as_number_outside_32_bits_is_left_out() -> None:
    """ASNs are 32-bit: 2**32 (or a 2**70 that Elasticsearch's long would refuse) is no number; the organisation stays."""
    from shippers.enrichment.databases import as_from_record

    for number in (2**32, 2**70, -1):
        found = as_from_record({"autonomous_system_number": number, "autonomous_system_organization": "Odd Net"})
        assert found is not None and found.number is None and found.organization == "Odd Net"
    top = as_from_record({"autonomous_system_number": 2**32 - 1})
    assert top is not None and top.number == 2**32 - 1


def test_a_sandbox_hiding_proc_fds_falls_back_to_the_in_memory_copy(enrich_dbs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """When /proc/self/fd/N cannot be opened (a sandbox), the database is still served, from the pure-Python in-memory copy."""
    import maxminddb

    from shippers.enrichment import databases

    real = maxminddb.open_database

    def no_proc(path: str, mode: int = maxminddb.MODE_AUTO) -> maxminddb.Reader:
        if str(path).startswith("/proc/"):
            raise PermissionError(13, "Permission denied", path)
        return real(path, mode)

    monkeypatch.setattr(databases.maxminddb, "open_database", no_proc)
    reader = databases.open_database("enrich.geoip_db", enrich_dbs["geoip_db"], geo=True)
    assert type(reader).__module__ == "maxminddb.reader"  # the pure-Python reader
    assert databases.geo_from_record(reader.get("203.0.113.7")).cityName == "Berlin"  # type: ignore[union-attr]
