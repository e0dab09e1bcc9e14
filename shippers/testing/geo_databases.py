"""Small MaxMind databases for tests and the demo, written with ``mmdb-writer`` (the ``demo`` extra).

:func:`write_city_database` and :func:`write_asn_database` take ``{network: place}`` tables and
write files in the layout of GeoLite2 City and ASN, so ``[enrich]`` reads them as it reads
MaxMind's own. :data:`TEST_PLACES` / :data:`TEST_NETWORKS` cover the documentation ranges the
tests and samples use (RFC 5737 / RFC 3849), each half-known so both a hit and a miss exist in
IPv4 and in IPv6. :func:`damage_records` spoils a written file's records (it still opens, every
look-up of a known network raises), for the enrichment-failure tests. Every value here is made up: it is test and demo data, not geolocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb
from mmdb_writer import MmdbF64, MmdbU32, MMDBWriter
from netaddr import IPSet

from shippers import data

# The label every database written here carries in its metadata (a reader can tell it from MaxMind's).
DEMO_LABEL = "authlog demo data: made-up places for documentation address ranges; not geolocation"


@dataclass(frozen=True)
class Place:
    """One network's made-up location, in the fields a GeoLite2 City record has."""

    continent: str
    country_code: str
    country: str
    region_code: str | None
    region: str | None
    city: str | None
    postal: str | None
    timezone: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Network:
    """One network's autonomous system."""

    number: int
    organization: str


BERLIN = Place("EU", "DE", "Germany", "BE", "Land Berlin", "Berlin", "10115", "Europe/Berlin", 52.52, 13.405)
SAO_PAULO = Place("SA", "BR", "Brazil", "SP", "Sao Paulo", "São Paulo", "01000", "America/Sao_Paulo", -23.5475, -46.63611)
TOKYO = Place("AS", "JP", "Japan", "13", "Tokyo", "Tokyo", "100-0001", "Asia/Tokyo", 35.6895, 139.69171)
# A Country-level record only (no region, city, postal code or coordinates), as a Country database holds.
COUNTRY_ONLY = Place("NA", "US", "United States", None, None, None, None, None, None, None)

# Known: 203.0.113.0/25, 198.51.100.0/24, 2001:db8::/33; unknown: 203.0.113.128/25, 192.0.2.0/24, 2001:db8:8000::/33.
TEST_PLACES: dict[str, Place] = {
    "203.0.113.0/25": BERLIN,
    "198.51.100.0/24": COUNTRY_ONLY,
    "2001:db8::/33": TOKYO,
}
TEST_NETWORKS: dict[str, Network] = {
    "203.0.113.0/25": Network(64500, "Example Telecom AG"),
    "2001:db8::/33": Network(64501, "Example Net KK"),
}
# The demo's samples use 203.0.113.1-254 and 2001:db8::1-ffff: all of them are known, in three cities.
DEMO_PLACES: dict[str, Place] = {
    "203.0.113.0/25": BERLIN,
    "203.0.113.128/25": SAO_PAULO,
    "2001:db8::/32": TOKYO,
}
DEMO_NETWORKS: dict[str, Network] = {
    "203.0.113.0/25": Network(64500, "Demo Telecom AG (demo data)"),
    "203.0.113.128/25": Network(64502, "Demo Fibra SA (demo data)"),
    "2001:db8::/32": Network(64501, "Demo Net KK (demo data)"),
}


def _names(name: str) -> dict[str, str]:
    return {"en": name}


def city_record(place: Place) -> dict[str, Any]:
    """The GeoLite2 City record of ``place`` (fields it lacks are left out, as MaxMind does)."""
    record: dict[str, Any] = {
        "continent": {"code": place.continent},
        "country": {"iso_code": place.country_code, "names": _names(place.country)},
    }
    if place.region_code and place.region:
        record["subdivisions"] = [{"iso_code": place.region_code, "names": _names(place.region)}]
    if place.city:
        record["city"] = {"names": _names(place.city)}
    if place.postal:
        record["postal"] = {"code": place.postal}
    location: dict[str, Any] = {}
    if place.lat is not None and place.lon is not None:
        location = {"latitude": MmdbF64(place.lat), "longitude": MmdbF64(place.lon)}
    if place.timezone:
        location["time_zone"] = place.timezone
    if location:
        record["location"] = location
    return record


def _write(path: Path, kind: str, records: dict[str, dict[str, Any]]) -> Path:
    """An IPv6 database (IPv4 mapped in) of ``{network: record}``, labelled demo data."""
    writer = MMDBWriter(ip_version=6, database_type=kind, ipv4_compatible=True, description={"en": DEMO_LABEL})
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def write_city_database(path: Path, places: dict[str, Place], kind: str = "authlog-demo-City") -> Path:
    """A City-layout database of ``places`` at ``path``."""
    return _write(path, kind, {network: city_record(place) for network, place in places.items()})


def write_asn_database(path: Path, networks: dict[str, Network], kind: str = "authlog-demo-ASN") -> Path:
    """An ASN-layout database of ``networks`` at ``path``."""
    return _write(path, kind, {network: {
        "autonomous_system_number": MmdbU32(owner.number), "autonomous_system_organization": owner.organization,
    } for network, owner in networks.items()})


# Why: the 16 zero bytes between an MMDB's search tree and its data section (the format's spec).
_DATA_SECTION_SEPARATOR_BYTES = 16
# Why: a control byte of 0xff reads as an extended type past the spec's last one: every reader refuses it.
_UNREADABLE_BYTE = 0xFF


def damage_records(path: Path) -> Path:
    """Overwrite the data section of the database at ``path``: it still opens and checks as its kind (the metadata is
    intact), but every look-up of a network it holds raises InvalidDatabaseError, as a damaged page would."""
    with maxminddb.open_database(str(path), maxminddb.MODE_MEMORY) as reader:
        tree_bytes = reader.metadata().search_tree_size
    content = bytearray(path.read_bytes())
    start = tree_bytes + _DATA_SECTION_SEPARATOR_BYTES
    end = content.rfind(b"\xab\xcd\xefMaxMind.com")  # the metadata marker
    content[start:end] = bytes([_UNREADABLE_BYTE]) * (end - start)
    path.write_bytes(bytes(content))
    return path


def write_demo_databases(folder: Path) -> tuple[Path, Path]:
    """The demo's City and ASN databases (demo data, labelled so in their metadata) in ``folder``."""
    return (
        write_city_database(folder / data.DEMO_CITY_FILE, DEMO_PLACES),
        write_asn_database(folder / data.DEMO_ASN_FILE, DEMO_NETWORKS),
    )


if __name__ == "__main__":  # python -m shippers.testing.geo_databases: rebuild the shipped demo databases
    for written in write_demo_databases(data.FOLDER):
        print(f"wrote {written} ({written.stat().st_size} bytes, {DEMO_LABEL})")
