"""The MaxMind databases of ``[enrich]``: open, check, and turn a record into :mod:`model` parts.

The user supplies the files (GeoLite2 / GeoIP2 City or Country, and ASN, or any MaxMind-format
database with the same record layout); nothing is downloaded at run time. A file that is
missing, unreadable, not a MaxMind database, or of the wrong kind (an ASN database given as
``geoip_db``) is a problem naming the key, so ``authlog check-config`` reports it with the rest.
Each reader serves a private copy of the file, taken when it opens: a database replaced in place
while the shipper runs (``cp new.mmdb GeoLite2-City.mmdb`` and ``curl -o`` truncate the file first)
would otherwise kill the process with SIGBUS at its next look-up through the shared mapping, or
mix two releases' trees and records. On Linux the copy is an anonymous memory file (memfd) read
by the C extension (memory-mapped, ~3 µs per look-up); elsewhere the pure-Python reader holds it
in memory (~25 µs). Either costs the file's size in memory, shared across a fork; a new release
takes effect at the next start (geoipupdate's rename-into-place is picked up then as well).
Readers are safe to share between threads.
"""

from __future__ import annotations

import math
import os
import shutil
from typing import Any

import maxminddb

from shippers.enrichment.model import AutonomousSystem, Geo, Location

# Why: the names MaxMind (and DB-IP, IPinfo in MaxMind format) give an ASN database; a
# geolocation key given one would look up every address and find no location.
_ASN_KINDS = ("ASN", "ISP")
# Why: City and Country databases carry the location layout geoip_db reads.
_GEO_KINDS = ("City", "Country")
# Why: AS numbers are 32-bit (RFC 6793); a larger one is no AS, and past 2**63 Elasticsearch's long refuses it.
MAX_AS_NUMBER = 2**32 - 1
# Why: the English names are the ones every destination's dashboards show.
LANGUAGE = "en"


class DatabaseProblem(Exception):
    """Why a database file cannot serve its key (the message names the key and the file)."""


# Why: the name a memfd shows in /proc/<pid>/maps (and nowhere else).
_COPY_NAME = "authlog-enrich-db"


def _open_private_copy(path: str) -> maxminddb.Reader:
    """A reader of a private copy of ``path`` (module docstring): memfd + C extension, else pure Python in memory."""
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        return maxminddb.open_database(path, maxminddb.MODE_MEMORY)
    with open(path, "rb") as source:
        copy = os.memfd_create(_COPY_NAME, os.MFD_CLOEXEC)
        try:
            with os.fdopen(os.dup(copy), "wb") as target:
                shutil.copyfileobj(source, target)
            # the reader maps the copy; the mapping outlives the descriptor closed below
            return maxminddb.open_database(f"/proc/self/fd/{copy}", maxminddb.MODE_AUTO)
        except OSError:  # a sandbox that hides /proc/self/fd's files: the pure-Python copy instead
            return maxminddb.open_database(path, maxminddb.MODE_MEMORY)
        finally:
            os.close(copy)


def open_database(key: str, path: str, *, geo: bool) -> maxminddb.Reader:
    """A reader for ``path``, checked for the kind ``key`` needs; raises :class:`DatabaseProblem`."""
    try:
        reader = _open_private_copy(path)
    except FileNotFoundError:
        raise DatabaseProblem(f"{key}: {path} does not exist; point it at a MaxMind database (.mmdb)") from None
    except PermissionError:
        raise DatabaseProblem(f"{key}: cannot read {path} (permission denied)") from None
    except IsADirectoryError:
        raise DatabaseProblem(f"{key}: {path} is a folder; point it at a MaxMind database file (.mmdb)") from None
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
        raise DatabaseProblem(f"{key}: {path} is not a readable MaxMind database ({type(exc).__name__})") from None
    kind = str(reader.metadata().database_type)
    wrong = any(k in kind for k in _ASN_KINDS) if geo else any(k in kind for k in _GEO_KINDS)
    if wrong:
        reader.close()
        wanted = "a City or Country database" if geo else "an ASN database"
        raise DatabaseProblem(f"{key}: {path} is a {kind!r} database; {key} takes {wanted}")
    return reader


def check_database(key: str, path: str, *, geo: bool) -> str | None:
    """The problem with ``path`` for ``key`` (config checking), or None when it opens as the right kind."""
    try:
        open_database(key, path, geo=geo).close()
    except DatabaseProblem as exc:
        return str(exc)
    return None


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a record's object, else an empty one (a database of another layout: nothing known)."""
    return value if isinstance(value, dict) else {}


def _name(part: Any) -> str | None:
    names = _object(part).get("names")
    return _text(names.get(LANGUAGE)) if isinstance(names, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _degrees(value: Any, limit: float) -> float | None:
    """A coordinate as a float when it is a finite number within +-``limit``, else None.

    Why: a NaN or infinity would be stored as ``null`` (JSON has neither), and the stored line would
    then no longer decode: the event would be withheld from every sink. Out-of-range values are
    refused by Elasticsearch's geo_point and OCSF's coordinates alike.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    degrees = float(value)
    return degrees if math.isfinite(degrees) and -limit <= degrees <= limit else None


def _location(where: dict[str, Any]) -> Location | None:
    lat, lon = _degrees(where.get("latitude"), 90.0), _degrees(where.get("longitude"), 180.0)
    return Location(lat=lat, lon=lon) if lat is not None and lon is not None else None


def geo_from_record(record: Any) -> Geo | None:
    """A City/Country record -> Geo (only the fields it has, each of the type it should be), or None when it has none."""
    if not isinstance(record, dict):
        return None
    subdivisions = record.get("subdivisions")
    region = _object(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else {}
    where = _object(record.get("location"))
    fields = {
        "continentCode": _text(_object(record.get("continent")).get("code")),
        "countryIsoCode": _text(_object(record.get("country")).get("iso_code")),
        "countryName": _name(record.get("country")),
        "regionIsoCode": _text(region.get("iso_code")),
        "regionName": _name(region),
        "cityName": _name(record.get("city")),
        "postalCode": _text(_object(record.get("postal")).get("code")),
        "timezone": _text(where.get("time_zone")),
        "location": _location(where),
    }
    known = {k: v for k, v in fields.items() if v is not None}
    return Geo(**known) if known else None


def as_from_record(record: Any) -> AutonomousSystem | None:
    """An ASN record -> AutonomousSystem, or None when it has neither number nor organization."""
    if not isinstance(record, dict):
        return None
    number = record.get("autonomous_system_number")
    organization = _text(record.get("autonomous_system_organization"))
    number = number if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= MAX_AS_NUMBER else None
    if number is None and organization is None:
        return None
    return AutonomousSystem(number=number, organization=organization)
