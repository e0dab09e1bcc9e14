"""Enrichment at ingest: GeoIP, AS and user agent derived once per event, stored as one optional object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from shippers.catalog import builtin_catalog
from shippers.config import EnrichConfig, FilePath, config_from_dict
from shippers.enrichment import user_agent as ua
from shippers.enrichment.enricher import Enricher, build_enricher
from shippers.errors import ConfigError
from shippers.event import EventValidator, decode_event, encode_event
from shippers.testing.geo_databases import BERLIN, write_asn_database, write_city_database

CHROME_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
NOW = 1_764_000_000.0
BERLIN_GEO = {
    "continentCode": "EU", "countryIsoCode": "DE", "countryName": "Germany", "regionIsoCode": "BE",
    "regionName": "Land Berlin", "cityName": "Berlin", "postalCode": "10115", "timezone": "Europe/Berlin",
    "location": {"lat": 52.52, "lon": 13.405},
}
TOKYO_GEO = {
    "continentCode": "AS", "countryIsoCode": "JP", "countryName": "Japan", "regionIsoCode": "13", "regionName": "Tokyo",
    "cityName": "Tokyo", "postalCode": "100-0001", "timezone": "Asia/Tokyo", "location": {"lat": 35.6895, "lon": 139.69171},
}
CHROME = {"name": "Chrome", "version": "120.0.0", "os": {"name": "Mac OS X", "version": "10.15.7"}, "device": {"name": "Mac"}}


def _validator(enrich_dbs: dict[str, str], **keys: Any) -> EventValidator:
    config = EnrichConfig(**{k: FilePath(v) for k, v in enrich_dbs.items()}, user_agent=True)
    config = msgspec.structs.replace(config, **keys)
    return EventValidator(builtin_catalog(), lambda: NOW, build_enricher(config))


def _line(validator: EventValidator, **fields: Any) -> dict[str, Any]:
    return msgspec.json.decode(encode_event(validator.from_fields({"type": "login.invalid_password", **fields})))


@pytest.mark.parametrize(("ip", "expected"), [
    ("203.0.113.7", {"geo": BERLIN_GEO, "as": {"number": 64500, "organization": "Example Telecom AG"}}),
    ("198.51.100.9", {"geo": {"continentCode": "NA", "countryIsoCode": "US", "countryName": "United States"}}),
    ("203.0.113.200", None),
    ("192.0.2.1", None),
    ("2001:db8::7", {"geo": TOKYO_GEO, "as": {"number": 64501, "organization": "Example Net KK"}}),
    ("2001:db8:8000::7", None),
    ("2001:0DB8:0000::0007", {"geo": TOKYO_GEO, "as": {"number": 64501, "organization": "Example Net KK"}}),
])
def test_addresses_known_and_unknown_get_exactly_what_the_databases_hold(enrich_dbs: dict[str, str], ip: str, expected: Any) -> None:
    """IPv4 and IPv6, known (City or Country-level) and unknown: the line has the known fields only, never an empty object."""
    line = _line(_validator(enrich_dbs, user_agent=False), ip=ip)
    assert line.get("enrichment") == expected
    if expected is None:
        assert "enrichment" not in line


def test_the_user_agent_is_parsed_into_browser_os_and_device(enrich_dbs: dict[str, str]) -> None:
    """A Chrome on macOS reads as Chrome 120.0.0, Mac OS X 10.15.7, device Mac; the original stays in userAgent only."""
    line = _line(_validator(enrich_dbs), userAgent=CHROME_MAC)
    assert line["enrichment"] == {"userAgent": CHROME}
    assert line["userAgent"] == CHROME_MAC


@pytest.mark.parametrize("text", ["zzz", "nothing known here/x", "Mozilla/5.0"])
def test_an_unrecognised_user_agent_adds_nothing(enrich_dbs: dict[str, str], text: str) -> None:
    """uap-core's "Other" is never stored as a name: a user agent nothing is known of adds no enrichment."""
    assert "enrichment" not in _line(_validator(enrich_dbs), userAgent=text)


def test_a_partly_known_user_agent_keeps_only_the_known_parts(enrich_dbs: dict[str, str]) -> None:
    """okhttp has a name and version but no OS or device: only name and version are stored."""
    assert _line(_validator(enrich_dbs), userAgent="okhttp/4.12.0")["enrichment"] == {"userAgent": {"name": "okhttp", "version": "4.12.0"}}


def test_every_existing_key_of_the_line_is_unchanged_and_enrichment_comes_last(enrich_dbs: dict[str, str]) -> None:
    """The enriched line is the plain line plus one trailing `enrichment` key: readers of today's lines keep working."""
    fields = {"type": "login.completed", "id": "e-1", "time": "2025-11-24T16:00:00.000Z", "userId": "u-1",
              "ip": "203.0.113.7", "userAgent": CHROME_MAC, "details": {"k": 1}}
    plain = encode_event(EventValidator(builtin_catalog(), lambda: NOW).from_fields(fields))
    enriched = encode_event(_validator(enrich_dbs).from_fields(fields))
    assert b'"enrichment"' not in plain
    assert enriched.startswith(plain[:-1] + b',"enrichment":{')
    assert list(msgspec.json.decode(enriched))[-1] == "enrichment"
    assert decode_event(enriched) == _validator(enrich_dbs).from_fields(fields)
    assert decode_event(plain).enrichment is None


def test_nothing_enabled_builds_no_enricher() -> None:
    """An empty [enrich] (the default) builds no enricher, so validation pays nothing for it."""
    assert build_enricher(EnrichConfig()) is None
    assert build_enricher(None) is None


def test_a_lookup_that_fails_costs_the_enrichment_never_the_event(caplog: pytest.LogCaptureFixture) -> None:
    """An enricher that raises leaves the event valid and unenriched, and the log names the error type, not the values."""
    def broken(ip: str) -> Any:
        raise RuntimeError(f"secret {ip}")

    validator = EventValidator(builtin_catalog(), lambda: NOW, Enricher(geo=broken))
    event = validator.from_fields({"type": "login.completed", "ip": "203.0.113.7"})
    assert event.enrichment is None
    assert "RuntimeError" in caplog.text and "203.0.113.7" not in caplog.text


def test_repeated_values_are_looked_up_once(enrich_dbs: dict[str, str]) -> None:
    """The same address and user agent a thousand times cost one look-up and one parse (LRU caches)."""
    enricher = build_enricher(EnrichConfig(geoip_db=FilePath(enrich_dbs["geoip_db"]), user_agent=True))
    assert enricher is not None
    results = {id(enricher("203.0.113.7", CHROME_MAC).geo) for _ in range(1000)}  # type: ignore[union-attr]
    info = enricher.cache_info()
    assert len(results) == 1
    assert info["address"].misses == 1 and info["address"].hits == 999  # type: ignore[attr-defined]
    assert info["userAgent"].misses == 1 and info["userAgent"].hits == 999  # type: ignore[attr-defined]


@pytest.mark.skipif(not ua.native_available(), reason="ua-parser-rs (the native accelerator) is not installed")
@pytest.mark.parametrize("text", [CHROME_MAC, "okhttp/4.12.0", "zzz",
                                  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                                  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"])
def test_the_native_parser_gives_the_pure_python_answers(text: str) -> None:
    """With or without ua-parser-rs, a user agent parses to the same stored parts."""
    native, pure = ua.make_resolver(True), ua.make_resolver(False)
    assert ua.user_agent_of(native(text)) == ua.user_agent_of(pure(text))


def _config(tmp_path: Path, **enrich: Any) -> Any:
    return config_from_dict({"enrich": enrich, "sinks": {"m": {"type": "memory"}}}, base_dir=tmp_path)


def _problem(tmp_path: Path, **enrich: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, **enrich)
    return str(caught.value)


def test_a_missing_database_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    """geoip_db or asn_db pointing at nothing is refused at load, naming the key and the file."""
    assert "enrich.geoip_db:" in _problem(tmp_path, geoip_db="nope.mmdb") and "does not exist" in _problem(tmp_path, geoip_db="nope.mmdb")
    assert "enrich.asn_db:" in _problem(tmp_path, asn_db="nope.mmdb")


def test_a_file_that_is_not_a_maxmind_database_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    """A text file, an empty file and a folder given as a database are each refused naming the key."""
    (tmp_path / "junk.mmdb").write_text("not a database")
    (tmp_path / "empty.mmdb").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    for name in ("junk.mmdb", "empty.mmdb", "folder"):
        assert "enrich.geoip_db:" in _problem(tmp_path, geoip_db=name)


def test_an_unreadable_database_is_a_config_error_naming_the_key(
    tmp_path: Path, enrich_dbs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database the process may not read (the reader's open raises EACCES) is refused naming the key."""
    path = tmp_path / "locked.mmdb"
    path.write_bytes(Path(enrich_dbs["geoip_db"]).read_bytes())
    path.chmod(0)

    def refuse(*args: object, **kwargs: object) -> None:
        # What open(2) raises for a file mode 0 to anyone but root: the tests run as root in CI, where
        # the chmod alone would not stop the read.
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("shippers.enrichment.databases.maxminddb.open_database", refuse)
    assert "enrich.geoip_db:" in _problem(tmp_path, geoip_db=str(path))


def test_a_database_of_the_wrong_kind_is_a_config_error_naming_the_key(tmp_path: Path, enrich_dbs: dict[str, str]) -> None:
    """An ASN database as geoip_db, or a City one as asn_db, is refused saying which kind the key takes."""
    assert "takes a City or Country database" in _problem(tmp_path, geoip_db=enrich_dbs["asn_db"])
    assert "takes an ASN database" in _problem(tmp_path, asn_db=enrich_dbs["geoip_db"])


def test_unknown_enrich_keys_and_relative_paths(tmp_path: Path) -> None:
    """An unknown [enrich] key is an error naming it; relative database paths resolve against the config's folder."""
    assert "enrich.geo_db: unknown key" in _problem(tmp_path, geo_db="x")
    write_city_database(tmp_path / "c.mmdb", {"203.0.113.0/24": BERLIN})
    write_asn_database(tmp_path / "a.mmdb", {})
    config = _config(tmp_path, geoip_db="c.mmdb", asn_db="a.mmdb", user_agent=True)
    assert config.enrich.geoip_db == str(tmp_path / "c.mmdb") and config.enrich.user_agent is True


def test_emit_stores_the_enriched_event(tmp_path: Path, enrich_dbs: dict[str, str]) -> None:
    """emit() enriches before it stores: the stored line carries the enrichment."""
    from shippers.shipper import Shipper

    shipper = Shipper.from_config({"buffer": {"path": str(tmp_path / "b")}, "enrich": {**enrich_dbs, "user_agent": True},
                                   "sinks": {"m": {"type": "memory"}}})
    try:
        event = shipper.emit("login.completed", ip="2001:db8::7", userAgent=CHROME_MAC)
        stored = decode_event(bytes(shipper.buffer.scan(0, 10)[0].body))
    finally:
        shipper.close(1.0)
    assert stored.enrichment == event.enrichment and stored.enrichment is not None
    assert msgspec.to_builtins(stored.enrichment) == {"geo": TOKYO_GEO, "as": {"number": 64501, "organization": "Example Net KK"},
                                                       "userAgent": CHROME}


def test_the_ingest_process_enriches_as_the_shipper_does(tmp_path: Path, enrich_dbs: dict[str, str]) -> None:
    """The sidecar's ingest process, given [enrich], stores the same enrichment Shipper.ingest_raw does."""
    from shippers.config import BufferConfig
    from shippers.sidecar.body import BodyLimits
    from shippers.sidecar.ingest_child import IngestChild, IngestSettings
    from shippers.sidecar.ingest_process import IngestProcess

    config = config_from_dict({"buffer": {"path": str(tmp_path / "a")}, "enrich": {**enrich_dbs, "user_agent": True},
                               "sinks": {"m": {"type": "memory"}}})
    settings = IngestProcess.for_config(config).settings
    assert settings.enrich == config.enrich
    child = IngestChild(IngestSettings(BufferConfig(path=FilePath(str(tmp_path / "a"))), None, enrich=settings.enrich))
    body = b'{"type": "login.completed", "ip": "203.0.113.7", "userAgent": "okhttp/4.12.0"}'
    child.handle(("split", 1, body, "application/json", None, BodyLimits(1 << 20, 100)))
    child.handle(("validate", 1, 0, 1))
    child.handle(("commit", 1))
    stored = decode_event(bytes(child.buffer.scan(0, 10)[0].body))
    child.buffer.close()
    assert msgspec.to_builtins(stored.enrichment) == {
        "geo": BERLIN_GEO, "as": {"number": 64500, "organization": "Example Telecom AG"},
        "userAgent": {"name": "okhttp", "version": "4.12.0"},
    }
